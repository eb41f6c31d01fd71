"""Signal interpolation between generated grid points."""

from __future__ import annotations

import math

import numpy as np
import pytest

from belleflow.limits import SignalGrid, SignalLibrary
from belleflow.limits.histograms import table_from_hist
from belleflow.limits.signal import gaussian_fractions
from belleflow.naming import signal_label


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
    # Blended templates moved to 2.5 GeV and stretched ~ Gaussian(2.5, 0.025).
    spectrum = pred.spectrum(edges)
    assert spectrum.sum() == pytest.approx(25.0, rel=0.01)
    shape = spectrum / spectrum.sum()
    assert np.sum(shape * 0.5 * (edges[1:] + edges[:-1])) == pytest.approx(2.5, abs=2e-3)
    gauss = gaussian_fractions(edges, 2.5, 0.025)
    assert np.abs(shape - gauss).sum() < 0.05


def _core_and_tail(edges: np.ndarray, mass: float, total: float) -> np.ndarray:
    """A signal template as channels see it: 55 % Gaussian core, 45 % wrong pairings.

    The wrong pairings spread flat from 0.5 to 3.5 GeV, whatever the mass.
    """
    core = gaussian_fractions(edges, mass, 0.01 * mass) * 0.55 * total
    width = np.clip(np.minimum(edges[1:], 3.5) - np.maximum(edges[:-1], 0.5), 0.0, None)
    return core + 0.45 * total * width / 3.0


def test_window_yield_is_the_signal_in_the_window(make_hist) -> None:
    edges = np.linspace(0.0, 4.0, 801)
    masses = [1.0, 1.5, 2.0, 2.5, 3.0]
    signal = {(m, 0.0): _core_and_tail(edges, m, 100.0) for m in masses}
    table = table_from_hist(make_hist(edges=edges, signal=signal))
    library = SignalLibrary({0.0: SignalGrid.from_histograms(table, "zp", 0.0)}, lambda m: 0.01 * m)
    mass = 2.0
    idx = np.flatnonzero(np.abs(0.5 * (edges[1:] + edges[:-1]) - mass) <= 2 * 0.01 * mass)
    inside = library.at(mass).in_window(edges, idx).sum()
    # The core's share plus the wrong pairings that happen to land in the window:
    # not the whole sample times the Gaussian fraction (100 x 0.954).
    expected = 0.55 * 100 * 0.954 + 0.45 * 100 * (idx.size * 0.005) / 3.0
    assert inside == pytest.approx(expected, rel=0.02)
    assert inside < 0.6 * 100 * 0.954


def test_held_out_grid_point_window_yield(make_hist) -> None:
    """Interpolating between neighbours predicts a left-out grid point's in-window yield."""
    edges = np.linspace(0.0, 4.0, 801)
    masses = [1.0, 1.5, 2.0, 2.5, 3.0]
    yields = {m: 178.0 * efficiency(m) for m in masses}
    signal = {(m, 0.0): _core_and_tail(edges, m, yields[m]) for m in masses}
    table = table_from_hist(make_hist(edges=edges, signal=signal))
    full = SignalGrid.from_histograms(table, "zp", 0.0)
    keep = [i for i, m in enumerate(full.masses) if m != 2.0]
    assert full.templates is not None
    held_out = SignalGrid(
        full.masses[keep], full.yields[keep], {}, tuple(full.templates[i] for i in keep)
    )
    sigma = lambda m: 0.01 * m
    idx = np.flatnonzero(np.abs(0.5 * (edges[1:] + edges[:-1]) - 2.0) <= 2 * sigma(2.0))
    truth = SignalLibrary({0.0: full}, sigma).at(2.0).in_window(edges, idx).sum()
    predicted = SignalLibrary({0.0: held_out}, sigma).at(2.0).in_window(edges, idx).sum()
    assert predicted == pytest.approx(truth, rel=0.03)


def _window(edges: np.ndarray, mass: float) -> np.ndarray:
    """Bins within two resolutions (1 % of the mass) of ``mass``."""
    return np.flatnonzero(np.abs(0.5 * (edges[1:] + edges[:-1]) - mass) <= 2 * 0.01 * mass)


def test_core_and_rest_interpolate_separately(make_hist) -> None:
    """Near a kinematic end the wrong pairings fall while the peak stays: the window follows the peak.

    As ``four_muon`` at 8 GeV: between the 7 and 9 GeV neighbours the total
    yield falls by half, the in-window yield is flat. One interpolated total
    times a blended in-window fraction overestimates the window by ~20 %;
    the core interpolated on its own gets it.
    """
    edges = np.linspace(0.0, 4.0, 801)
    masses = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    tails = {1.0: 60.0, 1.5: 60.0, 2.0: 60.0, 2.5: 55.0, 3.0: 30.0, 3.5: 5.0}
    signal = {
        (m, 0.0): gaussian_counts_at(edges, m, 0.01 * m, 30.0)
        + tails[m] * np.clip(np.minimum(edges[1:], 4.0) - np.maximum(edges[:-1], 0.0), 0, None) / 4
        for m in masses
    }
    table = table_from_hist(make_hist(edges=edges, signal=signal))
    held_out = 3.0
    kept = {(m, 0.0): v for (m, c), v in signal.items() if m != held_out}
    reduced = table_from_hist(make_hist(edges=edges, signal=kept))
    sigma = lambda m: 0.01 * m
    idx = _window(edges, held_out)
    truth = float(table.get(signal_label("zp", held_out, 0.0))[idx].sum())

    def predicted(core: object) -> float:
        grid = SignalGrid.from_histograms(reduced, "zp", 0.0, (), core)  # type: ignore[arg-type]
        return float(SignalLibrary({0.0: grid}, sigma).at(held_out).in_window(edges, idx).sum())

    assert predicted(_window) == pytest.approx(truth, rel=0.02)
    # Without the split the same neighbours miss the window by far more.
    assert abs(predicted(None) / truth - 1.0) > 0.1
    # At a grid point the split reproduces the template bin by bin.
    grid = SignalGrid.from_histograms(table, "zp", 0.0, (), _window)
    spectrum = SignalLibrary({0.0: grid}, sigma).at(2.5).spectrum(edges)
    np.testing.assert_allclose(spectrum, signal[(2.5, 0.0)], rtol=1e-9, atol=1e-12)


def test_variation_ratios_are_in_window(make_hist) -> None:
    """A scale shift that moves signal out of the window lowers the in-window yield."""
    edges = np.linspace(0.0, 4.0, 801)
    nominal = {(m, 0.0): gaussian_counts_at(edges, m, 0.01 * m, 50.0) for m in (1.0, 2.0, 3.0)}
    shifted = {
        (signal_label("zp", m, 0.0), "scale_up"): gaussian_counts_at(
            edges, 1.02 * m, 0.01 * m, 50.0
        )
        for m in (1.0, 2.0, 3.0)
    }
    h = make_hist(edges=edges, signal=nominal, variations=shifted)
    table = table_from_hist(h)
    grid = SignalGrid.from_histograms(table, "zp", 0.0, ["scale"])
    pred = SignalLibrary({0.0: grid}, lambda m: 0.01 * m).at(2.0)
    idx = np.flatnonzero(np.abs(0.5 * (edges[1:] + edges[:-1]) - 2.0) <= 0.04)
    # Totals are equal, but a 2 % shift is 2 sigma: about half the core leaves the window.
    assert grid.variations["scale_up"][1] == pytest.approx(1.0)
    assert pred.window_ratios(edges, idx)["scale_up"] == pytest.approx(0.5, abs=0.05)


def gaussian_counts_at(edges: np.ndarray, mass: float, sigma: float, total: float) -> np.ndarray:
    """Expected counts of a Gaussian peak in each bin."""
    return total * gaussian_fractions(edges, mass, sigma)


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
