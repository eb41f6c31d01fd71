"""Background-only ensembles: window correlations, coverage, bias, null scan."""

from __future__ import annotations

import numpy as np
import pytest

from belleflow.limits.api import build_hypotheses
from belleflow.limits.histograms import HistogramTable
from belleflow.validation.checks import (
    GAUSSIAN_ABOVE_2,
    NOMINAL_COVERAGE,
    bias_checks,
    coverage_checks,
    null_checks,
)
from belleflow.validation.toys import Ensemble, draw_window_counts, run_ensemble
from belleflow.validation.windows import (
    background_per_bin,
    background_variance_per_bin,
    smoothed_background_per_bin,
    window_bins,
)

from .conftest import SIGMA, MakeTable, toy_model

N_TOYS = 1000


def _ensemble(table: HistogramTable, step: int = 4, seed: int = 5) -> Ensemble:
    model = toy_model()
    hypotheses = build_hypotheses(model, {"toy": {"m": table}})[::step]
    windows = [window_bins(model, table.edges, h.mass) for h in hypotheses]
    sigmas = [SIGMA] * len(hypotheses)
    return run_ensemble(
        hypotheses,
        windows,
        background_per_bin(table),
        sigmas,
        cl=0.9,
        n_toys=N_TOYS,
        seed=seed,
        max_fits=6,
    )


def test_overlapping_windows_share_their_events() -> None:
    """Toys are spectra: two windows sharing half their bins have correlation 1/2."""
    rng = np.random.default_rng(2)
    counts = draw_window_counts(np.full(40, 0.5), [(0, 19), (10, 29), (30, 39)], 20000, rng)
    corr = np.corrcoef(counts.T)
    assert corr[0, 1] == pytest.approx(0.5, abs=0.03)
    assert corr[0, 2] == pytest.approx(0.0, abs=0.03)
    np.testing.assert_allclose(counts.mean(axis=0), [10, 10, 5], rtol=0.02)


def test_toys_are_reproducible_from_the_seed(make_table: MakeTable) -> None:
    table = make_table(0.05)
    first, again = _ensemble(table, step=10), _ensemble(table, step=10)
    np.testing.assert_array_equal(first.counts, again.counts)
    np.testing.assert_array_equal(first.observed, again.observed)


@pytest.mark.parametrize("per_bin", [0.02, 0.3])
def test_discrete_counts_cover_at_least_the_nominal_rate(
    make_table: MakeTable, per_bin: float
) -> None:
    ensemble = _ensemble(make_table(per_bin))
    assert set(ensemble.methods) == {"exact"}
    for band, nominal in ((1, NOMINAL_COVERAGE[0]), (2, NOMINAL_COVERAGE[1])):
        toys = ensemble.coverage(band)
        poisson = ensemble.coverage_exact[:, band - 1]
        assert np.all(poisson >= nominal - 0.01)
        # The toys agree with the Poisson expectation within their binomial error.
        error = np.sqrt(poisson * (1 - poisson) / N_TOYS) + 1e-9
        assert np.all(np.abs(toys - poisson) <= 4 * error + 1e-3)
    assert all(c.passed for c in coverage_checks(ensemble))


def test_many_events_cover_close_to_the_nominal_rate(make_table: MakeTable) -> None:
    ensemble = _ensemble(make_table(3.0), step=12)
    assert set(ensemble.methods) == {"asymptotic"}
    assert ensemble.coverage(1).mean() == pytest.approx(NOMINAL_COVERAGE[0], abs=0.08)
    assert ensemble.coverage(2).mean() == pytest.approx(NOMINAL_COVERAGE[1], abs=0.04)
    fraction = float((ensemble.z > 2).mean())
    assert fraction == pytest.approx(GAUSSIAN_ABOVE_2, abs=0.012)
    assert all(c.passed for c in coverage_checks(ensemble) + null_checks(ensemble))


def test_background_only_toys_fit_no_signal(make_table: MakeTable) -> None:
    ensemble = _ensemble(make_table(0.3))
    mean, error, _ = ensemble.bias()
    assert np.all(np.abs(mean) <= 4.5 * error)
    (check,) = bias_checks(ensemble)
    assert check.passed


def test_a_biased_background_model_fails_the_bias_check(make_table: MakeTable) -> None:
    """Toys from twice the background the model assumes: a spurious signal everywhere."""
    table = make_table(0.3)
    model = toy_model()
    hypotheses = build_hypotheses(model, {"toy": {"m": table}})[::4]
    windows = [window_bins(model, table.edges, h.mass) for h in hypotheses]
    ensemble = run_ensemble(
        hypotheses,
        windows,
        2 * background_per_bin(table),
        [SIGMA] * len(hypotheses),
        cl=0.9,
        n_toys=N_TOYS,
    )
    (check,) = bias_checks(ensemble)
    assert not check.passed


def test_the_null_scan_of_a_sound_model_passes(make_table: MakeTable) -> None:
    ensemble = _ensemble(make_table(0.3), step=2)
    checks = {c.name: c for c in null_checks(ensemble)}
    assert all(c.passed for c in checks.values()), checks
    assert np.all(np.isfinite(ensemble.z_global))
    assert float((ensemble.z > 2).mean()) <= GAUSSIAN_ABOVE_2
    # Exact counting of a few events: fewer than Gaussian above 2, as Poisson predicts.
    assert float((ensemble.z > 2).mean()) == pytest.approx(
        float(ensemble.fraction_z2_exact.mean()), abs=0.004
    )


def test_a_window_without_background_fails_the_single_event_check(
    make_table: MakeTable,
) -> None:
    """One event where the model claims no background would be a discovery: it must fail."""
    ensemble = _ensemble(make_table(0.3), step=8)
    z_one = ensemble.z_one_event.copy()
    z_one[0] = 40.0  # what the backend gives for b = 0
    broken = Ensemble(**{**vars(ensemble), "z_one_event": z_one})
    checks = {c.name: c for c in null_checks(broken)}
    assert not checks["Z of one event in a window"].passed
    assert checks["largest local Z"].passed


def test_a_lone_heavy_simulated_event_is_neither_a_resonance_nor_a_bias(
    make_table: MakeTable,
) -> None:
    """One simulated event of weight 3 on a sparse background: "3 +- 3 events", not a peak.

    Toys drawn around the raw simulation plant a one-event resonance that the smoothed
    background model rightly does not describe (too many local Z above 2). Drawn around the
    simulation smoothed as the backend smooths it, the null scan is sound; and the bias
    toys of the raw simulation agree with the model within the simulation's own
    uncertainty.
    """
    base = make_table(0.0004)
    key = ("bkg", "nominal")
    values, variances = dict(base.values), dict(base.variances)
    values[key] = values[key].copy()
    variances[key] = variances[key].copy()
    values[key][200] += 3.0
    variances[key][200] += 9.0
    table = HistogramTable(base.edges, values, variances)
    model = toy_model()
    hypotheses = build_hypotheses(model, {"toy": {"m": table}})[::2]
    windows = [window_bins(model, table.edges, h.mass) for h in hypotheses]
    raw = background_per_bin(table)

    def ensemble(truth: np.ndarray, **kwargs: object) -> Ensemble:
        return run_ensemble(
            hypotheses,
            windows,
            truth,
            [SIGMA] * len(hypotheses),
            cl=0.9,
            n_toys=N_TOYS,
            **kwargs,  # type: ignore[arg-type]
        )

    naive = {c.name: c for c in null_checks(ensemble(raw))}
    assert not naive["local Z > 2"].passed
    sound = ensemble(
        smoothed_background_per_bin(model, table),
        simulation=(raw, background_variance_per_bin(model, table)),
    )
    assert all(c.passed for c in null_checks(sound) + bias_checks(sound))
    # Without the simulation's uncertainty, the lone event would read as a bias.
    exact = Ensemble(**{**vars(sound), "b_simulation_variance": np.zeros(len(hypotheses))})
    assert not bias_checks(exact)[0].passed
