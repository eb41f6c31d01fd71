"""Known answers of the CLs calculators."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from belleflow.limits import (
    CountingSummary,
    Resolution,
    StatModel,
    compute_limits,
    exact_p0,
    exact_upper_limit,
)

ZERO = (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("n_obs", "cl", "expected"),
    [(0, 0.90, 2.303), (0, 0.95, 2.996), (1, 0.90, 3.890), (1, 0.95, 4.744)],
)
def test_exact_background_free(n_obs: int, cl: float, expected: float) -> None:
    limit = exact_upper_limit(CountingSummary(n_obs, 1.0, 0.0, ZERO), cl)
    assert limit.method == "exact"
    assert limit.observed == pytest.approx(expected, rel=0.01)


def test_exact_scales_with_signal_per_mu() -> None:
    # The POI is sigma x B: 4 events per fb turns 2.996 events into 0.749 fb.
    limit = exact_upper_limit(CountingSummary(0, 4.0, 0.0, ZERO), 0.95)
    assert limit.observed == pytest.approx(2.996 / 4.0, rel=0.01)


def test_exact_expected_bands_are_ordered_and_contain_median() -> None:
    limit = exact_upper_limit(CountingSummary(3, 1.0, 3.0, (0.0, 0.0, 0.01)), 0.95)
    assert list(limit.expected) == sorted(limit.expected)
    assert limit.expected[0] < limit.expected[4]


def test_exact_systematic_loosens_limit() -> None:
    plain = exact_upper_limit(CountingSummary(2, 1.0, 2.0, ZERO), 0.95).observed
    smeared = exact_upper_limit(CountingSummary(2, 1.0, 2.0, (0.04, 0.0, 0.09)), 0.95).observed
    assert smeared > plain


def test_exact_p0() -> None:
    # P(n >= 3 | b = 0.5) = 1 - e^-0.5 (1 + 0.5 + 0.125)
    p0, z = exact_p0(CountingSummary(3, 1.0, 0.5, ZERO))
    assert p0 == pytest.approx(1 - math.exp(-0.5) * 1.625, rel=1e-6)
    assert z > 2.0


def _flat_model(cl: float, **kw: object) -> StatModel:
    return StatModel(
        channel="flat",
        observable="m",
        mass_range=(2.0, 2.0),
        resolution=Resolution(polynomial=[0.05]),
        signal_model="zp",
        cl=cl,  # type: ignore[arg-type]
        mc_stat=False,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("cl", "z"), [(0.95, 1.96), (0.90, 1.645)])
def test_large_background_median_expected(
    tmp_path, make_hist, signal_grid, cl: float, z: float
) -> None:
    edges = np.linspace(1.0, 3.0, 81)
    per_bin = 2000.0
    bkg = np.full(80, per_bin)
    signal = signal_grid(edges, [1.5, 2.5], lambda _m: 100.0, lambda _m: 0.05)
    h = make_hist(edges=edges, background={"qq": bkg}, signal=signal)
    model = _flat_model(cl, blinded=True)
    result = compute_limits(model, {"m": h}, out_dir=tmp_path, plots=False)
    point = result.points[0]
    assert point.method == "asymptotic"
    # Limit on signal events: median expected -> z sqrt(b).
    median_events = point.expected[2] * point.s_per_fb
    assert median_events == pytest.approx(z * math.sqrt(point.b), rel=0.03)
    # Blinded: observed equals the median expected.
    assert point.observed == pytest.approx(point.expected[2], rel=0.01)


def test_auto_choice_exact_for_small_background(tmp_path, make_hist, signal_grid) -> None:
    edges = np.linspace(1.0, 3.0, 81)
    signal = signal_grid(edges, [1.5, 2.5], lambda _m: 100.0, lambda _m: 0.05)
    bkg = np.full(80, 0.01)
    data = np.zeros(80)
    h = make_hist(edges=edges, background={"qq": bkg}, signal=signal, data=data)
    result = compute_limits(_flat_model(0.9), {"m": h}, out_dir=tmp_path, plots=False)
    point = result.points[0]
    assert point.method == "exact"
    assert point.b < 5
    # b ~ 0.08, n = 0: CLs is independent of b for n = 0, so still 2.303 events.
    assert point.observed * point.s_per_fb == pytest.approx(2.303, rel=0.01)


@pytest.mark.slow
def test_toys_close_to_asymptotic_for_moderate_counts() -> None:
    from belleflow.limits import AsymptoticCalculator, toys_upper_limit  # noqa: PLC0415

    spec = {
        "channels": [
            {
                "name": "sr",
                "samples": [
                    {
                        "name": "signal",
                        "data": [5.0],
                        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                    },
                    {"name": "bkg", "data": [20.0], "modifiers": []},
                ],
            }
        ],
        "measurements": [
            {
                "name": "m",
                "config": {"poi": "mu", "parameters": [{"name": "mu", "bounds": [[0, 10]]}]},
            }
        ],
        "observations": [{"name": "sr", "data": [20.0]}],
        "version": "1.0.0",
    }
    toys = toys_upper_limit(spec, 0.95, ntoys=300)
    asym = AsymptoticCalculator(spec, 0.95).upper_limit()
    assert toys.method == "toys"
    assert toys.observed == pytest.approx(asym.observed, rel=0.25)


def _one_bin_spec(s: float, b: float, n: float, lower: float) -> dict[str, Any]:
    return {
        "channels": [
            {
                "name": "sr",
                "samples": [
                    {
                        "name": "signal",
                        "data": [s],
                        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                    },
                    {"name": "bkg", "data": [b], "modifiers": []},
                ],
            }
        ],
        "measurements": [
            {
                "name": "m",
                "config": {"poi": "mu", "parameters": [{"name": "mu", "bounds": [[lower, 10]]}]},
            }
        ],
        "observations": [{"name": "sr", "data": [n]}],
        "version": "1.0.0",
    }


def test_fit_interval_of_a_negative_best_fit_is_the_poisson_one() -> None:
    """With the POI free below 0 (the validation's unbiased fits), both errors are right.

    One bin without nuisances: the interval is the Poisson ``2 Delta ln L = 1`` one,
    ``(lambda - b) / s``. The lower end was clipped at 0, above the best fit.
    """
    from belleflow.limits import AsymptoticCalculator  # noqa: PLC0415
    from belleflow.validation.windows import poisson_interval  # noqa: PLC0415

    fit = AsymptoticCalculator(_one_bin_spec(5.0, 20.0, 10.0, -3.9), 0.95).fit()
    low, high = poisson_interval(10)
    assert fit.mu_hat == pytest.approx(-2.0, abs=1e-3)
    assert fit.error_low == pytest.approx(-2.0 - (low - 20.0) / 5.0, rel=1e-3)
    assert fit.error_high == pytest.approx((high - 20.0) / 5.0 + 2.0, rel=1e-3)


def test_fit_interval_when_the_free_fit_stopped_short() -> None:
    """A free fit whose minimum differs by more than 1 from the fixed fit at mu_hat.

    Measured against the free fit, 2 Delta NLL - 1 was positive on both sides of
    mu_hat and brentq stopped with "f(a) and f(b) must have different signs".
    """
    from belleflow.limits import AsymptoticCalculator  # noqa: PLC0415

    calc = AsymptoticCalculator(_one_bin_spec(5.0, 20.0, 30.0, 0.0), 0.95)
    reference = calc.fit()
    calc._nll_hat -= 2.0  # as if the free fit had found a lower minimum than the fixed fits
    fit = calc.fit()
    assert fit.error_low == pytest.approx(reference.error_low, rel=1e-6)
    assert fit.error_high == pytest.approx(reference.error_high, rel=1e-6)
    assert fit.error_low > 0
    assert fit.error_high > 0


def test_exact_limit_without_a_root_names_the_count() -> None:
    with pytest.raises(ValueError, match=r"no upper limit for n = 0, s = 1, b = 800"):
        exact_upper_limit(CountingSummary(n_obs=0, s=1.0, b=800.0, log_cov=(0.0, 0.0, 0.0)))


def _gamma_alp_like_spec(n: float) -> dict[str, Any]:
    """``gamma_alp``'s 7 GeV window: 0.0078 signal events per fb on 97 +- 11 background.

    The POI (sigma x B in fb) is of order 1e4, the nuisance parameters of order 1.
    """
    energy_scale = {"name": "escale", "type": "normsys"}
    return {
        "channels": [
            {
                "name": "sr",
                "samples": [
                    {
                        "name": "signal",
                        "data": [0.0077869],
                        "modifiers": [
                            {"name": "mu", "type": "normfactor", "data": None},
                            {**energy_scale, "data": {"hi": 0.9905, "lo": 1.0041}},
                        ],
                    },
                    {
                        "name": "gg",
                        "data": [97.213],
                        "modifiers": [
                            {"name": "stat", "type": "staterror", "data": [3.1006]},
                            {**energy_scale, "data": {"hi": 1.0987, "lo": 0.8881}},
                        ],
                    },
                ],
            }
        ],
        "measurements": [
            {
                "name": "m",
                "config": {
                    "poi": "mu",
                    "parameters": [
                        {"name": "mu", "bounds": [[0.0, 171612.0]], "inits": [5720.4]}
                    ],
                },
            }
        ],
        "observations": [{"name": "sr", "data": [n]}],
        "version": "1.0.0",
    }


def test_the_free_fit_reaches_the_minimum_when_the_poi_is_large() -> None:
    """The POI in fb (~1e4) against nuisances of order 1: the fit still finds the minimum.

    On this window (a full-chain injection of ``gamma_alp``) scipy stopped at the
    POI's starting value, 5,720 fb, 0.87 above the minimum in 2 NLL at 7,680 fb:
    every q, the local Z and the fitted interval (-890 +5,100 fb) were wrong.
    """
    from belleflow.limits import AsymptoticCalculator  # noqa: PLC0415

    calc = AsymptoticCalculator(_gamma_alp_like_spec(157.0), 0.95)
    scan = np.linspace(3000.0, 13000.0, 101)
    profile = np.array([calc._twice_nll(mu, calc.data) for mu in scan])
    assert calc._nll_hat <= profile.min() + 1e-4
    assert calc.mu_hat == pytest.approx(scan[profile.argmin()], abs=150.0)
    fit = calc.fit()
    for mu in (fit.mu_hat - fit.error_low, fit.mu_hat + fit.error_high):
        assert calc._twice_nll(mu, calc.data) - calc._nll_hat == pytest.approx(1.0, abs=0.01)
    assert fit.error_high / fit.error_low == pytest.approx(1.0, abs=0.3)
