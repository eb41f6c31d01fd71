"""Fixtures of the limit-backend tests: histograms that follow the naming contract."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import hist
import numpy as np
import pytest
from scipy.special import ndtr

from belleflow.naming import signal_label

MakeHist = Callable[..., hist.Hist]


def gaussian_counts(edges: np.ndarray, mass: float, sigma: float, total: float) -> np.ndarray:
    """Expected Gaussian counts per bin."""
    return total * np.diff(ndtr((edges - mass) / sigma))


def build_hist(
    *,
    edges: np.ndarray,
    background: Mapping[str, np.ndarray] | None = None,
    signal: Mapping[tuple[float, float], np.ndarray] | None = None,
    data: np.ndarray | None = None,
    variations: Mapping[tuple[str, str], np.ndarray] | None = None,
    model: str = "zp",
    observable: str = "m",
    bkg_variance_scale: float | None = None,
) -> hist.Hist:
    """A process x variation x observable histogram with the given per-bin contents."""
    slices: dict[tuple[str, str], np.ndarray] = {}
    for process, counts in (background or {}).items():
        slices[(process, "nominal")] = counts
    for (mass, ctau), counts in (signal or {}).items():
        slices[(signal_label(model, mass, ctau), "nominal")] = counts
    if data is not None:
        slices[("data", "nominal")] = data
    slices.update(variations or {})
    processes = list(dict.fromkeys(p for p, _ in slices))
    names = list(dict.fromkeys(["nominal", *(v for _, v in slices)]))
    h = hist.Hist(
        hist.axis.StrCategory(processes, name="process"),
        hist.axis.StrCategory(names, name="variation"),
        hist.axis.Variable(edges, name=observable),
        storage=hist.storage.Weight(),
    )
    view = h.view()
    for (process, variation), counts in slices.items():
        i, j = processes.index(process), names.index(variation)
        view["value"][i, j] = counts
        is_bkg = background is not None and process in background
        scale = bkg_variance_scale if (is_bkg and bkg_variance_scale is not None) else 0.0
        view["variance"][i, j] = counts * scale
    return h


@pytest.fixture
def make_hist() -> Callable[..., hist.Hist]:
    """The :func:`build_hist` factory."""
    return build_hist


@pytest.fixture
def signal_grid() -> Callable[..., dict[tuple[float, float], np.ndarray]]:
    """Gaussian signal templates at grid masses, yield(m) per fb given by a function."""

    def make(
        edges: np.ndarray,
        masses: Sequence[float],
        yield_fn: Callable[[float], float],
        sigma_fn: Callable[[float], float],
        ctau: float = 0.0,
    ) -> dict[tuple[float, float], np.ndarray]:
        return {(m, ctau): gaussian_counts(edges, m, sigma_fn(m), yield_fn(m)) for m in masses}

    return make


def as_any(value: Any) -> Any:
    """Identity for typing in tests."""
    return value
