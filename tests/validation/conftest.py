"""Synthetic runs for the validation tests: a Gaussian signal grid on a flat background."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hist
import numpy as np
import pytest
from scipy.special import ndtr

from belleflow.limits.histograms import HistogramTable, table_from_hist
from belleflow.limits.model import Resolution, StatModel
from belleflow.naming import signal_label

MakeTable = Callable[..., HistogramTable]

#: Constant mass resolution (GeV) of the synthetic channel.
SIGMA = 0.02
#: Generated grid masses (GeV).
GRID = (1.0, 1.25, 1.5, 1.75, 2.0)
EDGES = np.linspace(0.5, 2.5, 401)


def toy_model(**changes: Any) -> StatModel:
    """The synthetic channel's statistical model (90 % CL, +-2 sigma counting windows)."""
    fields: dict[str, Any] = {
        "channel": "toy",
        "observable": "m",
        "mass_range": (1.0, 2.0),
        "resolution": Resolution(polynomial=[SIGMA]),
        "signal_model": "zp",
        "window": 2.0,
        "cl": 0.9,
        "lumi_uncertainty": 0.01,
    }
    return StatModel(**{**fields, **changes})


def signal_yield(mass: float) -> float:
    """Signal events per fb of sigma x B at ``mass``: a smooth efficiency."""
    return 0.02 * (1.0 + 0.3 * mass)


def toy_histogram(
    background_per_bin: float,
    *,
    signal_scale: dict[float, float] | None = None,
    data: np.ndarray | None = None,
    signal_events: float = 1e6,
    background_weight: float = 0.05,
) -> hist.Hist:
    """process x variation x m: flat background (MC weight 0.05), Gaussian signals, data.

    ``signal_scale`` multiplies the signal of chosen grid masses (a wrong model).
    Each signal grid point is ``signal_events`` simulated events; each simulated
    background event weighs ``background_weight``.
    """
    slices = {"bkg": np.full(EDGES.size - 1, background_per_bin)}
    for mass in GRID:
        scale = (signal_scale or {}).get(mass, 1.0)
        shape = np.diff(ndtr((EDGES - mass) / SIGMA))
        slices[signal_label("zp", mass, 0.0)] = scale * signal_yield(mass) * shape
    if data is not None:
        slices["data"] = data
    h = hist.Hist(
        hist.axis.StrCategory(list(slices), name="process"),
        hist.axis.StrCategory(["nominal"], name="variation"),
        hist.axis.Variable(EDGES, name="m"),
        storage=hist.storage.Weight(),
    )
    view = h.view()
    for i, (name, counts) in enumerate(slices.items()):
        weight = counts.sum() / signal_events if name.startswith("zp") else background_weight
        view["value"][i, 0] = counts
        view["variance"][i, 0] = counts * weight
    return h


@pytest.fixture
def make_table() -> MakeTable:
    """Histogram table of :func:`toy_histogram`."""

    def make(background_per_bin: float, **kwargs: Any) -> HistogramTable:
        return table_from_hist(toy_histogram(background_per_bin, **kwargs))

    return make
