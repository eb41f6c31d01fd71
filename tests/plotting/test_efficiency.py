"""Signal efficiency from the cutflow; the resolution measured on the signal peaks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from belleflow.limits.histograms import HistogramTable
from belleflow.plotting.efficiency import measured_resolution, signal_efficiencies


def test_efficiency_is_final_over_generated_per_point() -> None:
    report = {
        "samples": {
            "a": {"kind": "signal", "model": "zp", "mass": 2.0, "ctau": 0.0},
            "b": {"kind": "signal", "model": "zp", "mass": 1.0, "ctau": 0.0},
            "c": {"kind": "signal", "model": "other", "mass": 1.0, "ctau": 0.0},
            "d": {"kind": "simulation", "process": "mumu"},
        },
        "cutflow": {
            "a": {"all": [1000.0, 5.0], "sel": [600.0, 3.0], "sr": [500.0, 2.5]},
            "b": {"all": [1000.0, 5.0], "sel": [400.0, 2.0], "sr": [250.0, 1.25]},
            "c": {"all": [1000.0, 5.0], "sel": [1.0, 0.0], "sr": [1.0, 0.0]},
            "d": {"all": [1000.0, 5.0], "sel": [1.0, 0.0], "sr": [1.0, 0.0]},
        },
    }
    points = signal_efficiencies(report, ["zp"])
    assert [(p.mass, p.efficiency) for p in points] == [(1.0, 0.25), (2.0, 0.5)]
    at_sel = signal_efficiencies(report, ["zp"], cut="sel")
    assert [p.efficiency for p in at_sel] == [0.4, 0.6]


@pytest.mark.parametrize(("sigma", "width"), [(0.01, 0.001), (0.02, 0.007), (0.05, 0.02)])
def test_measured_resolution_of_a_gaussian_is_its_sigma(sigma, width) -> None:
    edges = np.arange(0.0, 3.0 + width, width)
    peak = 1000 * np.diff(ndtr((edges - 1.5) / sigma))
    tail = np.where(edges[:-1] < 1.5, 0.02, 0.0)  # a low-side radiative tail
    table = HistogramTable(edges, {("zp_m1.5_ctau0", "nominal"): peak + tail})
    assert measured_resolution(table, "zp_m1.5_ctau0", 1.5, sigma) == pytest.approx(sigma, rel=0.04)


def test_measured_resolution_of_nothing_is_nan() -> None:
    edges = np.linspace(0, 1, 11)
    table = HistogramTable(edges, {("zp_m0.5_ctau0", "nominal"): np.zeros(10)})
    assert np.isnan(measured_resolution(table, "zp_m0.5_ctau0", 0.5, 0.05))
