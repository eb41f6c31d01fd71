"""Read-only access to belleflow histograms (``process`` x ``variation`` x observable).

The limit backend needs plain arrays: the bin edges of the observable and,
for one (process, variation) slice, the contents and variances. This module
is the only place that touches ``hist`` objects, so that the rest of the
backend works on numpy arrays and stays cheap to ship to Dask workers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from belleflow.naming import DATA, NOMINAL, SignalPoint, parse_signal_label

__all__ = ["HistogramTable", "table_from_hist", "tables_from_mapping"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class HistogramTable:
    """One observable's slices as arrays: ``values[(process, variation)]`` per bin."""

    edges: FloatArray
    values: dict[tuple[str, str], FloatArray]
    variances: dict[tuple[str, str], FloatArray] = field(default_factory=dict)

    @property
    def processes(self) -> list[str]:
        """Processes present with a nominal slice, in insertion order."""
        return [p for p, v in self.values if v == NOMINAL]

    def has(self, process: str, variation: str = NOMINAL) -> bool:
        """Whether the slice exists."""
        return (process, variation) in self.values

    def get(self, process: str, variation: str = NOMINAL) -> FloatArray:
        """Contents of one slice (raises KeyError with the known processes)."""
        try:
            return self.values[(process, variation)]
        except KeyError:
            msg = f"no slice ({process!r}, {variation!r}); processes: {self.processes}"
            raise KeyError(msg) from None

    def variance(self, process: str, variation: str = NOMINAL) -> FloatArray | None:
        """Variances (sum of squared weights) of one slice, or None if unweighted."""
        return self.variances.get((process, variation))

    def signal_points(self, model: str) -> dict[SignalPoint, str]:
        """Signal grid points of ``model`` present here, mapped to their process labels."""
        points = {}
        for process in self.processes:
            point = parse_signal_label(process)
            if point is not None and point.model == model:
                points[point] = process
        return points

    def projected(self, factor: float) -> HistogramTable:
        """Simulation and signal as if the luminosity were ``factor`` times larger; no data.

        Contents scale by ``factor`` and variances by its square, so the
        relative MC-statistics uncertainty of the simulation is kept (the
        simulation does not grow with the projected luminosity). Data cannot
        be projected and is dropped: a projection has expected limits only.
        """
        if not factor > 0:
            msg = f"luminosity projection factor must be positive, got {factor!r}"
            raise ValueError(msg)
        return HistogramTable(
            self.edges,
            {k: v * factor for k, v in self.values.items() if k[0] != DATA},
            {k: v * factor**2 for k, v in self.variances.items() if k[0] != DATA},
        )

    def background_processes(self) -> list[str]:
        """Processes that are neither data nor a signal grid point."""
        return [p for p in self.processes if p != DATA and parse_signal_label(p) is None]


def table_from_hist(histogram: Any) -> HistogramTable:
    """Convert a ``hist.Hist`` with ``process``, ``variation`` and one observable axis.

    Raises:
        ValueError: The histogram does not follow the naming contract.
    """
    names = [axis.name for axis in histogram.axes]
    if names[:2] != ["process", "variation"] or len(names) != 3:
        msg = f"expected axes ('process', 'variation', <observable>), got {tuple(names)}"
        raise ValueError(msg)
    edges = np.asarray(histogram.axes[2].edges, dtype=np.float64)
    view_values = np.asarray(histogram.values(), dtype=np.float64)
    raw_variances = histogram.variances()
    view_variances = None if raw_variances is None else np.asarray(raw_variances, np.float64)
    values: dict[tuple[str, str], FloatArray] = {}
    variances: dict[tuple[str, str], FloatArray] = {}
    for i, process in enumerate(histogram.axes[0]):
        for j, variation in enumerate(histogram.axes[1]):
            contents = view_values[i, j]
            # Empty (process, variation) cells are absent slices, not zero histograms:
            # a category axis is filled per process, so most variations of data are empty.
            if not np.any(contents) and variation != NOMINAL:
                continue
            values[(str(process), str(variation))] = contents
            if view_variances is not None:
                variances[(str(process), str(variation))] = view_variances[i, j]
    return HistogramTable(edges, values, variances)


def tables_from_mapping(histograms: Mapping[str, Any]) -> dict[str, HistogramTable]:
    """Convert every histogram of a name -> Hist mapping (already converted ones pass)."""
    return {
        name: h if isinstance(h, HistogramTable) else table_from_hist(h)
        for name, h in histograms.items()
    }
