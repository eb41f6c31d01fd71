"""The mumu_tautau channel on small synthetic samples made on the fly."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from belleflow.channels import load_channel
from belleflow.processor import DeclaredProcessor
from belleflow.training.evaluate import load_model
from belleflow.training.samples import make_sample, open_sample

MASS = 6.0


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A signal point and the main backgrounds (Belle II)."""
    folder = tmp_path_factory.mktemp("mumu_tautau")
    specs = {
        "signal": ("zprime_mumu_tautau", 400, {"mass": MASS}),
        "tautau": ("tautau", 4000, {}),
        "mumumumu": ("mumumumu", 600, {}),
        "mumu": ("mumu", 2000, {}),
        # Enough e+e- -> tau+tau- and continuum for a dozen candidates each.
        "tautau_large": ("tautau", 20000, {}),
        "uubar": ("uubar", 20000, {}),
    }
    return {
        name: make_sample(folder / f"{name}.root", process, n, parameters=par, seed=7)
        for name, (process, n, par) in specs.items()
    }


def _run(path: Path, access_log: list[Any] | None = None) -> dict[str, Any]:
    channel = load_channel("mumu_tautau")
    events = open_sample(path, access_log=access_log)
    out: dict[str, Any] = channel.make_processor().process(events)
    return out


def _counts(out: dict[str, Any], sample: str) -> dict[str, float]:
    return {cut: float(v[0]) for cut, v in out["cutflow"][sample].items()}


def test_signal_peak_and_efficiency(files: dict[str, Path]) -> None:
    module = pytest.importorskip("belleflow_channels.mumu_tautau")
    selection = DeclaredProcessor(module.channel, classify=False)
    _, m, _ = selection.training_candidates(open_sample(files["signal"]))
    sigma = module.RESOLUTION(MASS)
    near = m[np.abs(m - MASS) < 5 * sigma]
    assert abs(float(np.median(near)) - MASS) < sigma / 3
    counts = _counts(_run(files["signal"]), "signal")
    efficiency = counts["recoil_range"] / counts["all"]
    assert 0.2 < efficiency < 0.45  # documented: 0.29 at 6 GeV (Z')


@pytest.mark.parametrize(("sample", "factor"), [("tautau", 300), ("mumumumu", 100), ("mumu", 500)])
def test_backgrounds_fall(files: dict[str, Path], sample: str, factor: float) -> None:
    counts = _counts(_run(files[sample]), sample)
    assert counts["recoil_range"] * factor <= counts["all"]


def test_cutflow_never_rises(files: dict[str, Path]) -> None:
    for sample in ("signal", "tautau"):
        values = list(_counts(_run(files[sample]), sample).values())
        assert all(b <= a for a, b in itertools.pairwise(values))


def test_histograms_and_variations(files: dict[str, Path]) -> None:
    h = _run(files["signal"])["histograms"]["m_recoil"]
    variations = set(h.axes["variation"])
    expected = {"nominal", "pid_up", "pid_down", "tracking_up", "tracking_down"}
    assert expected | {"momentum_scale_up", "momentum_scale_down"} <= variations
    nominal = h[{"dataset": "signal", "variation": "nominal"}].values().sum()
    assert nominal > 0
    assert h[{"dataset": "signal", "variation": "pid_up"}].values().sum() > nominal


def test_reads_only_needed_columns(files: dict[str, Path]) -> None:
    log: list[Any] = []
    _run(files["signal"], access_log=log)
    read = {str(getattr(entry, "branch", entry)) for entry in log}
    assert not any("MCParticle" in name or "Photon" in name or "V0" in name for name in read)


def test_classifier_model_and_working_point(files: dict[str, Path]) -> None:
    module = pytest.importorskip("belleflow_channels.mumu_tautau")
    step = module.channel.classifier
    clf = load_model(step.model)
    assert tuple(clf.features) == module.FEATURES
    assert "m_recoil" not in module.FEATURES  # mass-independent inputs only
    target = step.training.signal_efficiency
    selection = DeclaredProcessor(module.channel, classify=False)

    def passing(name: str, truth_only: bool) -> tuple[int, int]:
        x, _, truth = selection.training_candidates(open_sample(files[name]))
        if truth_only:
            x = x[truth]
        return int(np.count_nonzero(clf.predict(x) >= clf.threshold)), len(x)

    kept, total = passing("signal", truth_only=True)
    assert total > 50
    assert abs(kept / total - target) < 0.15
    background = [passing(n, truth_only=False) for n in ("tautau_large", "uubar")]
    kept_b, total_b = sum(k for k, _ in background), sum(n for _, n in background)
    assert total_b >= 10
    assert kept_b < 0.5 * total_b  # trained rejection about 0.95


def test_classifier_is_the_last_cut(files: dict[str, Path]) -> None:
    signal = _counts(_run(files["signal"]), "signal")
    assert list(signal)[-2:] == ["recoil_range", "classifier"]
    # Per event (any candidate passing): at least the candidate working point.
    assert 0.7 < signal["classifier"] / signal["recoil_range"] <= 1.0
    background = [_counts(_run(files[n]), n) for n in ("tautau_large", "uubar")]
    before = sum(c["recoil_range"] for c in background)
    after = sum(c["classifier"] for c in background)
    assert before >= 10
    assert after < 0.5 * before
