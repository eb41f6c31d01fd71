"""Injected signal is fitted back; local and global significance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from belleflow.limits import (
    AsymptoticCalculator,
    Resolution,
    StatModel,
    build_hypotheses,
    compute_limits,
    global_significance,
)
from belleflow.limits.significance import asimov_significance

EDGES = np.linspace(1.0, 3.0, 81)


def _setup(make_hist, signal_grid, data_fn):
    bkg = np.full(80, 25.0)  # 200 events in the 8-bin window
    signal = signal_grid(EDGES, [1.5, 2.0, 2.5], lambda _m: 50.0, lambda _m: 0.05)
    injected = 0.8 * signal[(2.0, 0.0)]  # 0.8 fb of sigma x B
    h = make_hist(edges=EDGES, background={"qq": bkg}, signal=signal, data=data_fn(bkg + injected))
    model = StatModel(
        channel="inj",
        observable="m",
        mass_range=(2.0, 2.0),
        resolution=Resolution(polynomial=[0.05]),
        signal_model="zp",
        mc_stat=False,
    )
    return model, h


def test_asimov_injection(tmp_path, make_hist, signal_grid) -> None:
    model, h = _setup(make_hist, signal_grid, lambda x: x)
    result = compute_limits(model, {"m": h}, out_dir=tmp_path, plots=False)
    p = result.points[0]
    s = 0.8 * p.s_per_fb
    assert p.mu_hat == pytest.approx(0.8, rel=0.01)
    assert p.z_local == pytest.approx(asimov_significance(s, p.b), rel=0.01)
    assert p.observed > p.expected[4]  # an excess: observed above the +2 sigma band


def test_toy_injection_fitted_back(make_hist, signal_grid) -> None:
    rng = np.random.default_rng(11)
    model, h = _setup(make_hist, signal_grid, lambda x: rng.poisson(x).astype(float))
    (hyp,) = build_hypotheses(model, {"m": h}, masses=[2.0])
    fit = AsymptoticCalculator(hyp.spec).fit()
    pull = (fit.mu_hat - 0.8) / (fit.error_high if fit.mu_hat < 0.8 else fit.error_low)
    assert abs(pull) < 3.0
    assert fit.error_low > 0
    assert fit.error_high > 0


def test_global_significance_trials_and_gv() -> None:
    masses = np.linspace(1.0, 2.0, 101)
    sigma = np.full(101, 0.01)
    z = np.zeros(101)
    z[50] = 3.5
    z[[20, 70]] = 1.5  # two more upcrossings of Z = 1
    g = global_significance(masses, z, sigma)
    assert g.trials == pytest.approx(1.0 / (2 * 0.01), rel=1e-6)  # 50 search regions
    p_local = 0.5 * math.erfc(3.5 / math.sqrt(2))
    assert g.p_local == pytest.approx(p_local, rel=1e-6)
    assert g.p_global_trials == pytest.approx(1 - (1 - p_local) ** 50, rel=1e-6)
    assert g.upcrossings == 3
    assert g.p_global_gv == pytest.approx(p_local + 3 * math.exp(-(3.5**2 - 1) / 2), rel=1e-6)
    assert g.p_global == max(g.p_global_trials, g.p_global_gv)
    assert g.z_global < g.z_local
