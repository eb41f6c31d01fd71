"""Signal interpolation between generated grid points."""

from __future__ import annotations

import math

import numpy as np
import pytest

from belleflow.limits import SignalGrid, SignalLibrary
from belleflow.limits.histograms import table_from_hist
from belleflow.limits.signal import gaussian_fractions


def efficiency(m: float) -> float:
    """A smooth, non-linear efficiency curve (rises then falls)."""
    return 0.3 * (1 - math.exp(-m / 0.8)) * math.exp(-m / 12.0)


def test_held_out_grid_point_efficiency() -> None:
    grid_masses = np.linspace(0.25, 9.0, 15)
    held_out = grid_masses[7]
    kept = np.delete(grid_masses, 7)
    grid = SignalGrid.from_table(kept, [178.0 * efficiency(m) for m in kept])
    assert grid.yield_at(held_out) / 178.0 == pytest.approx(efficiency(held_out), rel=0.01)


def test_no_extrapolation() -> None:
    grid = SignalGrid.from_table([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="outside the signal grid"):
        grid.yield_at(2.5)


def test_from_histograms_template_shift(make_hist, signal_grid) -> None:
    edges = np.linspace(0.0, 4.0, 401)
    signal = signal_grid(edges, [1.0, 2.0, 3.0], lambda m: 10.0 * m, lambda m: 0.01 * m)
    h = make_hist(edges=edges, signal=signal)
    table = table_from_hist(h)
    grid = SignalGrid.from_histograms(table, "zp", 0.0)
    library = SignalLibrary({0.0: grid}, lambda m: 0.01 * m, shape="template")
    pred = library.at(2.5)
    assert pred.yield_per_fb == pytest.approx(25.0, rel=0.01)
    # Shifted and stretched template ~ Gaussian(2.5, 0.025).
    shape = pred.shape(edges)
    assert np.sum(shape * 0.5 * (edges[1:] + edges[:-1])) == pytest.approx(2.5, abs=2e-3)
    gauss = gaussian_fractions(edges, 2.5, 0.025)
    assert np.abs(shape - gauss).sum() < 0.05


def test_lifetime_interpolation_in_log_ctau() -> None:
    grids = {
        1.0: SignalGrid.from_table([1.0, 2.0], [10.0, 10.0]),
        100.0: SignalGrid.from_table([1.0, 2.0], [30.0, 30.0]),
    }
    library = SignalLibrary(grids, lambda _m: 0.01)
    assert library.at(1.5, 10.0).yield_per_fb == pytest.approx(20.0)
    with pytest.raises(ValueError, match="outside the generated lifetimes"):
        library.at(1.5, 1000.0)


def test_mass_coverage_follows_the_scanned_lifetimes() -> None:
    # Prompt signal generated over a wide range, displaced only at low mass.
    grids = {
        0.0: SignalGrid.from_table([0.04, 1.0, 6.5], [1.0, 2.0, 3.0]),
        1.0: SignalGrid.from_table([0.04, 0.1], [1.0, 1.0]),
        5.0: SignalGrid.from_table([0.04, 0.08], [1.0, 1.0]),
    }
    library = SignalLibrary(grids, lambda _m: 0.01)
    assert library.mass_coverage([0.0]) == (0.04, 6.5)
    assert library.mass_coverage([1.0, 5.0]) == (0.04, 0.08)
    # Between two generated lifetimes both neighbours are needed.
    assert library.mass_coverage([0.5]) == (0.04, 0.1)
