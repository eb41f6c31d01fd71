"""The windows of a scan and the backend's answer at any count."""

from __future__ import annotations

import math

import numpy as np
import pytest

from belleflow.limits.api import build_hypotheses
from belleflow.limits.background import estimate_window, resolution_units, usable_bins
from belleflow.limits.histograms import HistogramTable, table_from_hist
from belleflow.limits.model import Resolution
from belleflow.limits.scan import ScanSettings, evaluate
from belleflow.validation.windows import (
    WindowEvaluator,
    background_per_bin,
    background_variance_per_bin,
    poisson_interval,
    smoothed_background_per_bin,
    window_bins,
    with_count,
)

from .conftest import EDGES, toy_histogram, toy_model


@pytest.mark.parametrize("mass", [1.0, 1.3, 1.77, 2.0])
def test_window_bins_are_the_builders(mass: float) -> None:
    """Data summed over window_bins is the count the workspace builder observes."""
    data = np.arange(EDGES.size - 1, dtype=float) % 7
    histogram = toy_histogram(0.1, data=data)
    (h,) = build_hypotheses(toy_model(), {"toy": {"m": histogram}}, masses=[mass])
    low, high = window_bins(toy_model(), EDGES, mass)
    assert h.summary.n_obs == pytest.approx(data[low : high + 1].sum())
    assert high - low + 1 == 16  # +-2 sigma of 0.02 GeV in 5 MeV bins


def test_window_narrower_than_a_bin_takes_the_bin_of_the_mass() -> None:
    assert window_bins(toy_model(window=0.01), EDGES, 1.2012) == (140, 140)
    with pytest.raises(ValueError, match="outside the observable range"):
        window_bins(toy_model(), EDGES, 3.5)


def test_background_per_bin_sums_the_simulated_processes() -> None:
    table = table_from_hist(toy_histogram(0.25, data=np.ones(EDGES.size - 1)))
    np.testing.assert_allclose(background_per_bin(table), 0.25)


def test_evaluator_matches_the_backend_on_a_workspace_with_that_count() -> None:
    """evaluate() of a run whose data has n events in the window == the evaluator at n."""
    model = toy_model()
    low, _high = window_bins(model, EDGES, 1.3)
    data = np.zeros(EDGES.size - 1)
    data[low] = 3.0
    (unblinded,) = build_hypotheses(model, {"toy": {"m": toy_histogram(0.1, data=data)}}, [1.3])
    (blank,) = build_hypotheses(model, {"toy": {"m": toy_histogram(0.1)}}, [1.3])
    direct = evaluate(unblinded, ScanSettings(cl=0.9))
    via = WindowEvaluator(blank, 0.9)(3)
    assert via.observed == pytest.approx(direct.observed)
    assert via.z_local == pytest.approx(direct.z_local)
    assert with_count(blank, 3).spec["observations"] == unblinded.spec["observations"]


def test_mu_hat_is_the_unclipped_likelihood_maximum() -> None:
    (h,) = build_hypotheses(toy_model(), {"toy": {"m": toy_histogram(0.1)}}, [1.3])
    evaluator = WindowEvaluator(h, 0.9)
    assert evaluator.mu_hat(0) == pytest.approx(-h.summary.b / h.summary.s)
    np.testing.assert_allclose(
        evaluator.mu_hat(np.array([2, 5])), (np.array([2, 5]) - h.summary.b) / h.summary.s
    )


@pytest.mark.parametrize("n", [0, 1, 4, 30])
def test_poisson_interval_is_where_twice_the_log_likelihood_rises_by_one(n: int) -> None:
    low, high = poisson_interval(n)

    def twice_nll(lam: float) -> float:
        return 2 * (lam - n * math.log(lam)) if n else 2 * lam

    best = twice_nll(n) if n else 0.0
    assert twice_nll(high) - best == pytest.approx(1.0, abs=1e-8)
    if n:
        assert twice_nll(low) - best == pytest.approx(1.0, abs=1e-8)
    else:
        assert low == 0.0


def test_errors_of_a_large_count_are_gaussian() -> None:
    """Asymptotic windows: the pyhf interval is sqrt(n)/s within a few percent."""
    (h,) = build_hypotheses(toy_model(), {"toy": {"m": toy_histogram(4.0)}}, [1.3])
    evaluator = WindowEvaluator(h, 0.9)
    n = 100
    assert evaluator(n).method == "asymptotic"
    low, high = evaluator.errors(n)
    assert low == pytest.approx(math.sqrt(n) / h.summary.s, rel=0.08)
    assert high == pytest.approx(math.sqrt(n) / h.summary.s, rel=0.08)


def test_at_counts_interpolates_only_fitted_windows() -> None:
    (exact,) = build_hypotheses(toy_model(), {"toy": {"m": toy_histogram(0.05)}}, [1.3])
    evaluator = WindowEvaluator(exact, 0.9)
    calls: list[int] = []

    def quantity(n: int) -> float:
        calls.append(n)
        return float(n * n)

    counts = np.arange(40, dtype=np.int64)
    np.testing.assert_allclose(evaluator.at_counts(counts, quantity, max_fits=4), counts**2.0)
    assert sorted(calls) == list(range(40))
    (fitted,) = build_hypotheses(toy_model(), {"toy": {"m": toy_histogram(4.0)}}, [1.3])
    calls.clear()
    values = WindowEvaluator(fitted, 0.9).at_counts(counts + 50, quantity, max_fits=4)
    assert len(calls) == 4
    assert values[0] == 50.0**2
    assert values[-1] == 89.0**2


def test_a_multi_bin_workspace_is_refused() -> None:
    (h,) = build_hypotheses(toy_model(counting=False), {"toy": {"m": toy_histogram(0.1)}}, [1.3])
    with pytest.raises(ValueError, match="single-bin counting"):
        WindowEvaluator(h, 0.9)


def test_smoothed_background_is_the_backends_estimate_of_each_bin() -> None:
    """A sparse process: each bin estimated as the backend estimates a one-bin window."""
    rng = np.random.default_rng(3)
    model = toy_model(vetoed=[(1.4, 1.45)], resolution=Resolution(polynomial=[0.01, 0.01]))
    values = rng.poisson(3.0 * np.exp(-3.0 * (EDGES[:-1] - 0.5))) * 0.5
    values[300] += 4.0  # a lone heavy event
    variance = 0.5 * values
    variance[300] += 12.0
    table = HistogramTable(EDGES, {("bkg", "nominal"): values}, {("bkg", "nominal"): variance})
    u_edges = resolution_units(EDGES, model.resolution)
    usable = usable_bins(EDGES, model.vetoed)
    expected = []
    for i in range(EDGES.size - 1):
        est = estimate_window(
            EDGES, values, variance, np.array([i]), u_edges=u_edges, usable=usable, min_events=10
        )
        expected.append(0.0 if est is None else float(est.values.sum()))
    smoothed = smoothed_background_per_bin(model, table)
    np.testing.assert_allclose(smoothed, expected, rtol=1e-12, atol=1e-15)
    assert smoothed[300] < 0.5 * values[300]  # spread out, not a one-bin spike


def test_a_dense_process_is_kept_as_simulated() -> None:
    """Smoothing only the bins that fluctuated low would bias a dense spectrum upwards."""
    rng = np.random.default_rng(4)
    values = rng.poisson(8.0, EDGES.size - 1).astype(float)
    table = HistogramTable(EDGES, {("bkg", "nominal"): values}, {("bkg", "nominal"): values})
    np.testing.assert_array_equal(smoothed_background_per_bin(toy_model(), table), values)


def test_background_variance_is_known_where_the_simulation_is_empty_too() -> None:
    """Dense bins: the sum of squared weights; empty ones: the weight times the smoothed yield."""
    model = toy_model()
    dense = table_from_hist(toy_histogram(40.0))
    np.testing.assert_allclose(background_variance_per_bin(model, dense), 40.0 * 0.05)
    values = np.zeros(EDGES.size - 1)
    values[100] = 3.0  # one event of weight 3
    table = HistogramTable(EDGES, {("bkg", "nominal"): values}, {("bkg", "nominal"): 3 * values})
    variance = background_variance_per_bin(model, table)
    smoothed = smoothed_background_per_bin(model, table)
    assert smoothed.sum() == pytest.approx(3.0)
    assert variance[100] == pytest.approx(9.0)
    np.testing.assert_allclose(np.delete(variance, 100), 3.0 * np.delete(smoothed, 100))


def test_without_any_simulated_event_the_floor_sets_the_variance() -> None:
    """No background process at all: the truth is empty, known only to the floor's weight."""
    base = toy_model()
    model = base.model_copy(
        update={"background": base.background.model_copy(update={"floor_weight": 2.0})}
    )
    signal_only = {
        k: v for k, v in table_from_hist(toy_histogram(0.0)).values.items() if k[0] != "bkg"
    }
    table = HistogramTable(EDGES, signal_only)
    assert not smoothed_background_per_bin(model, table).any()
    variance = background_variance_per_bin(model, table)
    # One event of weight 2 spread over the spectrum: 2 x 2 in total, flat in resolution units.
    assert variance.sum() == pytest.approx(4.0)
    np.testing.assert_allclose(variance, variance[0])
    assert not background_variance_per_bin(base, table).any()


def test_counting_errors_are_in_the_units_of_sigma_x_b() -> None:
    """The Poisson interval over s, widened by s's relative spread times mu (not over s again)."""
    # 2,000 simulated signal events per grid point: s known to ~2 %.
    hist = toy_histogram(0.05, signal_events=2000)
    (exact,) = build_hypotheses(toy_model(), {"toy": {"m": hist}}, [1.3])
    evaluator = WindowEvaluator(exact, 0.9)
    assert evaluator(5).method == "exact"
    var_s, _, var_b = exact.summary.log_cov
    s, b = exact.summary.s, exact.summary.b
    low, high = evaluator.errors(5)
    p_low, p_high = poisson_interval(5)
    mu = float(evaluator.mu_hat(5))
    syst = mu * mu * var_s + b * b * var_b / (s * s)
    assert low == pytest.approx(math.sqrt(((5 - p_low) / s) ** 2 + syst))
    assert high == pytest.approx(math.sqrt(((p_high - 5) / s) ** 2 + syst))
    # Within a few percent of the bare Poisson interval: the simulation is precise here.
    assert high == pytest.approx((p_high - 5) / s, rel=0.05)
