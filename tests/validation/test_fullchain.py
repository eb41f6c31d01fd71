"""Full-chain pieces: the generate arguments, linked simulation, and the chain's checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtr

from belleflow.engine.outputs import write_histograms_json
from belleflow.generation.pseudodata import InjectedSignal
from belleflow.limits.api import compute_limits
from belleflow.validation import fullchain
from belleflow.validation.fullchain import (
    ChainInjection,
    ChainRun,
    chain_checks,
    link_simulation,
    peak_position,
    unblind_arguments,
)

from .conftest import EDGES, SIGMA, signal_yield, toy_histogram, toy_model

DATASETS = Path(__file__).parents[2] / "datasets"


def test_the_injection_argument_is_what_generate_parses() -> None:
    injection = ChainInjection("zprime_lmu_ltau", 2.25, 0.0, 134.5)
    parsed = InjectedSignal.parse(injection.argument())
    assert (parsed.model, parsed.mass, parsed.ctau) == ("zprime_lmu_ltau", 2.25, 0.0)
    assert parsed.cross_section_fb == pytest.approx(134.5)
    assert parsed.n_events is None


def test_unblind_arguments_follow_the_run_command() -> None:
    arguments = unblind_arguments()
    assert arguments[0] == "--unblind"
    assert len(arguments) in (1, 2)


def test_link_simulation_links_every_simulation_and_signal_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BELLEFLOW_DATA_ROOT", raising=False)
    base = tmp_path / "base"
    catalogue = tmp_path / "tiny.yaml"
    catalogue.write_text(
        f"extends: {DATASETS / 'belleflow.yaml'}\nname: tiny\nscale: 1.0e-7\ndata_root: {base}\n"
    )
    from belleflow.catalogue import load_catalogue  # noqa: PLC0415

    cat = load_catalogue(catalogue)
    made = []
    for view in cat.iter_samples():
        for pattern in view.files:
            if view.kind != "data" and not set("*?[") & set(pattern):
                file = base / pattern
                file.parent.mkdir(parents=True, exist_ok=True)
                file.write_text(view.name)
                made.append(file)
    assert made, "the catalogue names simulation files"
    root = tmp_path / "root"
    data = link_simulation(catalogue, root)
    assert set(data) == {v.name for v in cat.iter_samples("data")}
    for file in made:
        target = root / file.relative_to(base)
        assert target.is_symlink()
        assert target.read_text() == file.read_text()
    assert not (root / "data").exists()
    link_simulation(catalogue, root)  # a second pass keeps the links


def _chain_run(tmp_path: Path, xs: float, wrong_signal: float = 1.0, seed: int = 4) -> ChainRun:
    """A run of the synthetic channel whose data carries a Z' of ``xs`` fb at 1.4 GeV."""
    rng = np.random.default_rng(seed)
    mass = 1.4
    signal = xs * signal_yield(mass) * np.diff(ndtr((EDGES - mass) / SIGMA))
    data = rng.poisson(np.full(EDGES.size - 1, 0.1) + signal).astype(float)
    scale = dict.fromkeys((1.0, 1.25, 1.5, 1.75, 2.0), wrong_signal)
    histogram = toy_histogram(0.1, data=data, signal_scale=scale)
    run_dir = tmp_path / f"run{seed}"
    (run_dir / "toy").mkdir(parents=True)
    write_histograms_json({"m": histogram}, run_dir / "toy" / "histograms.json")
    result = compute_limits(
        toy_model(), {"toy": {"m": histogram}}, out_dir=run_dir / "toy", plots=False
    )
    injection = ChainInjection("zp", mass, 0.0, xs) if xs > 0 else None
    return ChainRun(seed, injection, run_dir, result.to_dict())


def test_an_injected_signal_is_found_fitted_and_not_excluded(tmp_path: Path) -> None:
    seeds = (4, 5, 6)
    runs = [_chain_run(tmp_path, 300.0, seed=s) for s in seeds] + [
        _chain_run(tmp_path, 0.0, seed=7)
    ]
    checks, figures = chain_checks(toy_model(), runs)
    assert [c.passed for c in checks] == [True] * len(checks), checks
    # Peak and strength per injected seed, the exclusion count, two per null run.
    assert len(checks) == 2 * len(seeds) + 1 + 2
    injected = [f for f in figures if f["kind"] == "injection"]
    assert all(f["peak_distance"] <= 1 + 1e-6 for f in injected)
    assert sum(f["observed"] <= 300.0 for f in injected) <= 1


def test_a_signal_model_three_times_too_large_is_caught(tmp_path: Path) -> None:
    runs = [_chain_run(tmp_path, 600.0, wrong_signal=3.0, seed=s) for s in (4, 5, 6)]
    checks = chain_checks(toy_model(), runs)[0]
    peaks = [c for c in checks if c.name.endswith("Z peak at the injected mass")]
    strengths = [c for c in checks if c.name.endswith("fitted sigma x B")]
    (exclusion,) = [c for c in checks if c.name == "observed limits above injection"]
    assert all(c.passed for c in peaks)
    assert not any(c.passed for c in strengths)
    assert not exclusion.passed
    assert exclusion.value == 3.0


def test_the_peak_is_the_middle_of_the_significance_top() -> None:
    """Overlapping windows share the injected events: their Z differ only by background."""
    z = {1.36: 0.4, 1.38: 4.9, 1.40: 5.0, 1.42: 4.95, 1.44: 4.92, 1.46: 4.8, 1.9: 4.0}
    points = [{"mass": m, "z_local": v} for m, v in z.items()]
    # Z**2 within 1 of 25: 1.38-1.44 (24.0-25.0), not 1.46 (23.0); 1.9 is apart, however high.
    assert peak_position(points) == ([(1.38, 1.44)], 5.0)


def test_an_equal_excess_elsewhere_does_not_hide_the_injected_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen in mumu_tautau's chain: 2 injected events at 4.24 GeV score Z = 3.49, two
    background events at 9 GeV, on a background smaller by 0.002 events, Z = 3.50."""
    fit = {"mu_hat": 300.0, "error_low": 150.0, "error_high": 200.0, "pull": 0.0, "ratio": 1.0}
    fit |= {"z_local": 3.49, "observed": 900.0, "expected_events": 3.0, "n_obs": 2}
    monkeypatch.setattr(fullchain, "injected_fit", lambda *_: fit)
    z = {1.2: 0.0, 1.4: 3.49, 1.6: 0.0, 1.8: 3.50, 2.0: 0.0}
    points = [{"mass": m, "ctau": 0.0, "z_local": v} for m, v in z.items()]
    assert peak_position(points) == ([(1.4, 1.4), (1.8, 1.8)], 3.5)
    run = ChainRun(1, ChainInjection("zp", 1.4, 0.0, 300.0), tmp_path, {"points": points})
    run.limits["global_significance"] = {}
    (peak,) = [c for c in chain_checks(toy_model(), [run])[0] if "Z peak" in c.name]
    assert peak.passed
    assert peak.value == 0.0


@pytest.mark.parametrize(("offset", "passes"), [(1.07, True), (1.6, False)])
def test_the_peak_is_placed_to_half_a_scan_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offset: float, passes: bool
) -> None:
    """Seen in tautau_phil's chain: 6 injected events in three neighbouring windows, and a
    step of the background estimate between them puts the top 1.07 resolutions away."""
    fit = {"mu_hat": 300.0, "error_low": 150.0, "error_high": 200.0, "pull": 0.0, "ratio": 1.0}
    fit |= {"z_local": 6.5, "observed": 900.0, "expected_events": 3.0, "n_obs": 6}
    monkeypatch.setattr(fullchain, "injected_fit", lambda *_: fit)
    peak = 1.4 - offset * SIGMA
    points = [{"mass": m, "ctau": 0.0, "z_local": 6.5 if m == peak else 1.0} for m in (1.2, peak)]
    run = ChainRun(1, ChainInjection("zp", 1.4, 0.0, 300.0), tmp_path, {"points": points})
    run.limits["global_significance"] = {}
    (check,) = [c for c in chain_checks(toy_model(), [run])[0] if "Z peak" in c.name]
    assert check.value == pytest.approx(offset)
    assert check.passed is passes


@pytest.mark.parametrize(("n_window", "passes"), [(3, False), (1, True)])
def test_a_peak_elsewhere_fails_when_the_injected_events_landed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n_window: int, passes: bool
) -> None:
    fit = {"mu_hat": 300.0, "error_low": 150.0, "error_high": 200.0, "pull": 0.0, "ratio": 1.0}
    fit |= {"z_local": 1.0, "observed": 900.0, "expected_events": 3.0, "n_obs": n_window}
    monkeypatch.setattr(fullchain, "injected_fit", lambda *_: fit)
    points = [
        {"mass": m, "ctau": 0.0, "z_local": 4.0 if m == 1.8 else 1.0} for m in (1.4, 1.6, 1.8)
    ]
    run = ChainRun(1, ChainInjection("zp", 1.4, 0.0, 300.0), tmp_path, {"points": points})
    run.limits["global_significance"] = {}
    (peak,) = [c for c in chain_checks(toy_model(), [run])[0] if "Z peak" in c.name]
    assert peak.passed is passes
    # The top is the 1.8 GeV point alone: 0.4 GeV, 20 resolutions, from the injection.
    assert peak.value == pytest.approx(0.4 / SIGMA)
