"""Background in a signal window where the simulation is sparse.

A window with no simulated background events does not mean no background:
it means the simulation sample is too small to see it. Taking the empty bins
at face value gives ``b = 0``, an exact p-value of 0 for a single data event
and an infinite significance. What analyses do instead, and belleflow does
per background process:

- **Dense windows** (at least ``min_events`` effective simulated events,
  ``(sum w)^2 / sum w^2``): the histogram itself, with its MC-statistics
  uncertainty.
- **Sparse windows**: a smooth local estimate. The neighbourhood of the
  window is widened in steps of two, symmetrically in units of the
  resolution (the coordinate ``u(m) = integral dm / sigma(m)`` in which every
  window has the same width), until it holds ``min_events`` effective events
  or spans the whole spectrum; the background density per resolution unit in
  that neighbourhood, times the window's width in resolution units, is the
  estimate. Bins inside vetoed mass windows, where the selection removes
  everything, are left out of the neighbourhood. The relative uncertainty is
  the MC-statistics one of the neighbourhood, ``sqrt(sum w^2) / sum w``.
  For a density that is linear across a symmetric neighbourhood the
  estimate is unbiased; curvature and edges of the spectrum are the
  approximation, documented in ``docs/limits.md``.
- **Floor**: a process with no simulated event anywhere in the usable
  spectrum contributes nothing; if no process has any, the window gets one
  event of the largest per-event simulation weight (the least-known
  process; from the run's report when the histograms hold no process at
  all), spread over the whole usable spectrum, with 100 % uncertainty: what
  the simulation could have missed. A background-free window therefore never has ``b = 0``.

Examples:
    A process with two events in a wide, flat spectrum: the window gets its
    share of them, not zero.

    >>> edges = np.linspace(0.0, 10.0, 101)
    >>> values = np.zeros(100); values[[10, 80]] = 1.0
    >>> est = estimate_window(edges, values, values.copy(), np.arange(50, 54),
    ...                       u_edges=edges / 0.1, usable=np.ones(100, bool), min_events=10)
    >>> round(float(est.values.sum()), 3), est.method
    (0.08, 'smoothed')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["WindowEstimate", "estimate_window", "floor_estimate", "resolution_units", "usable_bins"]

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class WindowEstimate:
    """Background of one process in one window.

    Attributes:
        values: Expected events in each window bin.
        errors: Absolute MC-statistics uncertainty of each window bin.
        n_effective: Effective simulated events the estimate rests on.
        method: ``"histogram"`` (the window's own bins), ``"smoothed"`` or ``"floor"``.
    """

    values: FloatArray
    errors: FloatArray
    n_effective: float
    method: str


def resolution_units(edges: FloatArray, resolution: Callable[[float], float]) -> FloatArray:
    """Bin edges in units of the resolution, ``u(x) = integral dx / sigma(x)`` from the first edge.

    Examples:
        >>> resolution_units(np.array([0.0, 1.0, 3.0]), lambda m: 0.5).tolist()
        [0.0, 2.0, 6.0]
    """
    x = np.asarray(edges, np.float64)
    inv = np.array([1.0 / resolution(float(v)) for v in x])
    return np.concatenate([[0.0], np.cumsum(0.5 * (inv[1:] + inv[:-1]) * np.diff(x))])


def usable_bins(edges: FloatArray, vetoed: Sequence[tuple[float, float]]) -> npt.NDArray[np.bool_]:
    """Bins whose centres lie outside every vetoed window.

    Examples:
        >>> usable_bins(np.array([0.0, 1.0, 2.0, 3.0]), [(1.2, 1.8)]).tolist()
        [True, False, True]
    """
    centres = 0.5 * (edges[1:] + edges[:-1])
    keep = np.ones(centres.size, dtype=bool)
    for low, high in vetoed:
        keep &= ~((centres >= low) & (centres <= high))
    return keep


def _n_effective(total: float, variance: float) -> float:
    return total * total / variance if variance > 0 else 0.0


def estimate_window(
    edges: FloatArray,
    values: FloatArray,
    variances: FloatArray | None,
    idx: IndexArray,
    *,
    u_edges: FloatArray,
    usable: npt.NDArray[np.bool_],
    min_events: float = 10.0,
) -> WindowEstimate | None:
    """Background of one process in the window bins ``idx`` (None: no events anywhere usable).

    Args:
        edges: Bin edges of the observable.
        values: The process's expected events per bin (weighted simulation).
        variances: Sum of squared weights per bin (None: unweighted, ``= values``).
        idx: The window's bins.
        u_edges: ``edges`` in resolution units (:func:`resolution_units`).
        usable: Bins that may enter a neighbourhood (:func:`usable_bins`).
        min_events: Effective events below which the window is smoothed (0: never).
    """
    del edges  # the resolution-unit coordinate carries all the geometry needed
    # Without variances (or with none recorded) the entries count as unweighted events.
    has_var = variances is not None and float(variances.sum()) > 0
    var = variances if has_var and variances is not None else values
    total_w, total_var = float(values[idx].sum()), float(var[idx].sum())
    n_window = _n_effective(total_w, total_var)
    if total_w > 0 and n_window >= min_events:
        return WindowEstimate(values[idx], np.sqrt(var[idx]), n_window, "histogram")
    if min_events <= 0:
        return None
    du = np.diff(u_edges)
    centres = 0.5 * (u_edges[1:] + u_edges[:-1])
    u_low, u_high = float(u_edges[idx[0]]), float(u_edges[idx[-1] + 1])
    u_mid, half = 0.5 * (u_low + u_high), 0.5 * (u_high - u_low)
    span = float(u_edges[-1] - u_edges[0])
    reach = half
    while True:
        reach *= 2.0
        near = usable & (np.abs(centres - u_mid) <= reach)
        near[idx] = True
        w, v = float(values[near].sum()), float(var[near].sum())
        if _n_effective(w, v) >= min_events or reach >= span:
            break
    if w <= 0:
        return None
    density = w / float(du[near].sum())
    estimate = density * du[idx]
    relative = np.sqrt(v) / w
    return WindowEstimate(estimate, relative * estimate, _n_effective(w, v), "smoothed")


def floor_estimate(
    idx: IndexArray, *, u_edges: FloatArray, usable: npt.NDArray[np.bool_], weight: float
) -> WindowEstimate:
    """One simulated event of ``weight`` spread over the usable spectrum, 100 % uncertain."""
    du = np.diff(u_edges)
    estimate = weight * du[idx] / float(du[usable].sum() or du.sum())
    return WindowEstimate(estimate, estimate.copy(), 0.0, "floor")
