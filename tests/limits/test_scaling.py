"""Limits tighten as 1/L without background and as 1/sqrt(L) when it dominates."""

from __future__ import annotations

import numpy as np
import pytest

from belleflow.limits import Background, Resolution, StatModel, compute_limits

EDGES = np.linspace(1.0, 3.0, 81)


def _limit(tmp_path, make_hist, signal_grid, lumi: float, bkg_per_bin: float) -> float:
    signal = signal_grid(EDGES, [1.5, 2.5], lambda _m: 0.2 * lumi, lambda _m: 0.05)
    h = make_hist(edges=EDGES, background={"qq": np.full(80, bkg_per_bin * lumi)}, signal=signal)
    model = StatModel(
        channel="lumi",
        observable="m",
        mass_range=(2.0, 2.0),
        resolution=Resolution(polynomial=[0.05]),
        signal_model="zp",
        blinded=True,
        mc_stat=False,
        exact_below=5.0,
        # A background known to vanish: a negligible simulation weight for the floor.
        background=Background(floor_weight=1e-9),
    )
    out = tmp_path / f"L{lumi:g}_b{bkg_per_bin:g}"
    return compute_limits(model, {"m": h}, out_dir=out, plots=False).points[0].expected[2]


def test_background_free_scales_as_inverse_lumi(tmp_path, make_hist, signal_grid) -> None:
    low = _limit(tmp_path, make_hist, signal_grid, 100.0, 0.0)
    high = _limit(tmp_path, make_hist, signal_grid, 400.0, 0.0)
    assert low / high == pytest.approx(4.0, rel=0.01)


def test_background_dominated_scales_as_inverse_sqrt_lumi(tmp_path, make_hist, signal_grid) -> None:
    low = _limit(tmp_path, make_hist, signal_grid, 100.0, 20.0)
    high = _limit(tmp_path, make_hist, signal_grid, 400.0, 20.0)
    assert low / high == pytest.approx(2.0, rel=0.03)
