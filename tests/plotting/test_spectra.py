"""Spectra: rebinning, stacking, Garwood data errors, blinded windows, ratio panel."""

from __future__ import annotations

import hist
import numpy as np
import pytest
from scipy.special import ndtr
from scipy.stats import chi2

from belleflow.limits.histograms import table_from_hist
from belleflow.plotting.spectra import (
    SignalOverlay,
    _group_backgrounds,
    coarse_edges,
    spectrum_plot,
)
from belleflow.plotting.style import LabelInfo


def _hist(data, backgrounds, signal=None):
    edges = np.linspace(0.0, 4.0, 401)
    processes = ["data", *backgrounds] + (["zp_m2_ctau0"] if signal is not None else [])
    h = hist.Hist(
        hist.axis.StrCategory(processes, name="process"),
        hist.axis.StrCategory(["nominal"], name="variation"),
        hist.axis.Variable(edges, name="m", label="$m$ [GeV]"),
        storage=hist.storage.Weight(),
    )
    view = h.view()
    view["value"][0, 0] = view["variance"][0, 0] = data
    for i, values in enumerate(backgrounds.values(), start=1):
        view["value"][i, 0], view["variance"][i, 0] = values, values * 0.01
    if signal is not None:
        view["value"][-1, 0] = signal
    return h


def test_coarse_edges_are_existing_edges() -> None:
    edges = np.cumsum(np.linspace(0.01, 0.03, 200))
    index = coarse_edges(edges, edges[0], edges[-1], 20)
    assert index[0] == 0
    assert index[-1] == len(edges) - 1
    assert 18 <= len(index) - 1 <= 20
    assert np.all(np.diff(index) > 0)


def test_minor_backgrounds_are_merged_and_totals_kept() -> None:
    big = np.full(400, 1.0)
    small = np.full(400, 0.001)
    table = table_from_hist(_hist(np.zeros(400), {"mumu": big, "ee": big * 0.5, "eeee": small}))
    index = coarse_edges(table.edges, 0.0, 4.0, 40)
    rows = _group_backgrounds(table, index)
    assert [label for label, _, _ in rows] == [
        "Other",
        "$e^+e^-(\\gamma)$",
        "$\\mu^+\\mu^-(\\gamma)$",
    ]
    assert sum(v.sum() for _, v, _ in rows) == pytest.approx(400 * 1.501)


def test_data_points_carry_garwood_intervals_and_skip_blinded_bins(tmp_path, captured) -> None:
    data = np.zeros(400)
    data[:100] = 1.0  # 10 events per coarse bin of 0.1 GeV below 1 GeV
    data[300:] = 1.0
    h = _hist(data, {"mumu": np.full(400, 1.0)}, signal=np.full(400, 0.01))
    overlay = SignalOverlay("zp_m2_ctau0", 100.0, "signal")
    spectrum_plot(
        tmp_path / "s",
        h,
        LabelInfo("Belle II"),
        signals=[overlay],
        blinded_windows=[(1.0, 3.0)],
        n_bins=40,
        logy=False,
    )
    ax = captured[0].axes[0]
    points = next(c for c in ax.containers if c.get_label() == "Data")
    x, y = points.lines[0].get_data()
    assert not np.any((x > 1.0) & (x < 3.0)), "data drawn inside the blinded window"
    assert len(x) == 20
    # "Events / 0.1 GeV": 10 events per bin; Garwood 68.3 % interval of n = 10.
    assert np.allclose(y, 10.0)
    segments = points.lines[2][0].get_segments()
    low, high = segments[0][0][1], segments[0][1][1]
    tail = ndtr(-1.0)  # one-sided probability outside one sigma
    assert low == pytest.approx(chi2.ppf(tail, 20) / 2, rel=1e-9)
    assert high == pytest.approx(chi2.ppf(1 - tail, 22) / 2, rel=1e-9)
    assert "Blinded" in ax.get_legend_handles_labels()[1]
    assert ax.get_ylabel() == "Events / 0.1 GeV"
    # The ratio panel: data over simulation, 10 / 10.
    ratio = captured[0].axes[1].containers[0].lines[0].get_ydata()
    assert np.allclose(ratio, 1.0)


def test_signal_drawn_at_its_cross_section(tmp_path, captured) -> None:
    signal = np.zeros(400)
    signal[200] = 0.02  # 0.02 events per fb in one fine bin
    h = _hist(np.ones(400), {"mumu": np.ones(400)}, signal=signal)
    spectrum_plot(
        tmp_path / "s",
        h,
        LabelInfo(),
        n_bins=40,
        signals=[SignalOverlay("zp_m2_ctau0", 500.0, "m = 2 GeV")],
    )
    ax = captured[0].axes[0]
    steps = next(p for p in ax.patches if p.get_label() == "m = 2 GeV")
    # 0.02 / fb x 500 fb = 10 events in one 0.1 GeV bin.
    assert steps.get_data()[0].max() == pytest.approx(10.0)


def test_all_blinded_spectrum_has_no_ratio_panel(tmp_path, captured) -> None:
    h = _hist(np.zeros(400), {"mumu": np.ones(400)})
    spectrum_plot(tmp_path / "s", h, LabelInfo(), blinded_windows=[(0.0, 4.0)])
    assert len(captured[0].axes) == 1
