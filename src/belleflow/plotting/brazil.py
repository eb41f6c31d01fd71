"""Brazil plots: expected limit bands, median and observed limit against mass.

Limits are drawn in the channel's declared units on a log axis. Two
choices keep the figures honest:

- **steps for exact limits**: a counting experiment's expected quantiles
  jump between integer event counts, so limits of the ``exact`` method are
  drawn as steps centred on the scanned masses; straight lines between
  neighbours would draw a comb of spikes that no hypothesis has;
- **gaps at vetoed windows**: no curve crosses a mass window the selection
  vetoes (or any hole in the scan), the window is shaded instead.

A blinded scan (``"blinded": true`` or no ``observed`` in the points) has
no observed line. The legend sits in head-room above the curves.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib.colors import LogNorm

from belleflow.limits.model import StatModel
from belleflow.plotting.labels import (
    ctau_tag,
    ctau_text,
    mass_axis_label,
    signal_title,
    unit_label,
)
from belleflow.plotting.style import (
    BAND_1SIGMA,
    BAND_2SIGMA,
    LabelInfo,
    experiment_label,
    figure_style,
    save_figure,
)

__all__ = ["brazil_plot", "brazil_stem", "limit_plane", "scan_segments"]

FloatArray = npt.NDArray[np.float64]


def brazil_stem(directory: Path, ctaus: Sequence[float], ctau: float) -> Path:
    """``brazil`` for a single lifetime, ``brazil_ctau2.5cm`` in a lifetime scan."""
    return directory / ("brazil" if len(set(ctaus)) == 1 else f"brazil_{ctau_tag(ctau)}")


def scan_segments(masses: Sequence[float], model: StatModel) -> list[slice]:
    """Runs of consecutive scan masses with no vetoed window or hole between them.

    A hole is a gap wider than three scan steps at that mass (the scan
    stepping ``scan_step * sigma(m)``), e.g. where the signal grid stops.

    Examples:
        >>> from belleflow.limits.model import Resolution
        >>> m = StatModel(channel="c", observable="m", mass_range=(1.0, 2.0),
        ...               resolution=Resolution(polynomial=[0.1]), signal_model="s",
        ...               vetoed=[(1.25, 1.35)])
        >>> scan_segments([1.0, 1.1, 1.2, 1.4, 1.5], m)
        [slice(0, 3, None), slice(3, 5, None)]
    """
    cuts = [0]
    for i, (a, b) in enumerate(itertools.pairwise(masses), start=1):
        vetoed = any(a < hi and lo < b for lo, hi in model.vetoed)
        hole = b - a > 3.0 * model.scan_step * model.resolution(a)
        if vetoed or hole:
            cuts.append(i)
    cuts.append(len(masses))
    return [slice(lo, hi) for lo, hi in itertools.pairwise(cuts) if hi > lo]


def _step_edges(mass: FloatArray) -> FloatArray:
    """Bin edges around scan masses: midpoints inside, half a step beyond the ends."""
    if len(mass) == 1:
        return np.array([mass[0] * 0.995, mass[0] * 1.005])
    mid = 0.5 * (mass[1:] + mass[:-1])
    return np.concatenate([[mass[0] - (mid[0] - mass[0])], mid, [mass[-1] + (mass[-1] - mid[-1])]])


def _draw_segment(
    ax: Any,
    mass: FloatArray,
    bands: FloatArray,
    observed: FloatArray | None,
    *,
    steps: bool,
    first: bool,
    cl: float,
) -> None:
    """One run of the scan: bands, median and observed, as steps or lines."""
    if steps:
        x = np.repeat(_step_edges(mass), 2)[1:-1]

        def y(values: FloatArray) -> FloatArray:
            return np.repeat(values, 2)
    else:
        x = mass

        def y(values: FloatArray) -> FloatArray:
            return values

    ax.fill_between(
        x,
        y(bands[0]),
        y(bands[4]),
        color=BAND_2SIGMA,
        lw=0,
        label=r"Expected $\pm 2\sigma$" if first else None,
    )
    ax.fill_between(
        x,
        y(bands[1]),
        y(bands[3]),
        color=BAND_1SIGMA,
        lw=0,
        label=r"Expected $\pm 1\sigma$" if first else None,
    )
    ax.plot(x, y(bands[2]), "k--", lw=1.5, label="Median expected" if first else None)
    if observed is not None:
        ax.plot(x, y(observed), "k-", lw=2, label=f"Observed {cl:.0%} CL" if first else None)


def brazil_plot(
    stem: Path,
    points: Sequence[dict[str, Any]],
    model: StatModel,
    info: LabelInfo,
    *,
    blinded: bool,
    ctau: float | None = None,
) -> list[Path]:
    """Draw one lifetime's Brazil plot into ``<stem>.png`` and ``<stem>.pdf``.

    Args:
        stem: Output path without suffix.
        points: ``limits.json`` points of one lifetime (``mass``, ``method``,
            ``expected_converted``, and ``observed_converted`` unless blinded).
        model: The statistical model (units, vetoed windows, scan step, CL).
        info: The experiment label.
        blinded: Draw no observed limit.
        ctau: The lifetime, written in the title of a displaced scan.

    Returns:
        The PNG and PDF paths.
    """
    rows = sorted(
        (p for p in points if all(math.isfinite(v) for v in p["expected_converted"])),
        key=lambda p: float(p["mass"]),
    )
    if not rows:
        msg = f"{stem}: no finite expected limits to draw"
        raise ValueError(msg)
    mass = np.array([float(p["mass"]) for p in rows])
    bands = np.array([p["expected_converted"] for p in rows], dtype=np.float64).T
    observed = None
    if not blinded:
        observed = np.array([float(p.get("observed_converted", np.nan)) for p in rows])
    steps = [p.get("method") == "exact" for p in rows]
    title = signal_title(model.signal_model)
    if ctau:
        title += ", " + ctau_text(ctau)
    with figure_style():
        fig, ax = plt.subplots(figsize=(9, 6.5))
        for i, seg in enumerate(scan_segments(list(mass), model)):
            _draw_segment(
                ax,
                mass[seg],
                bands[:, seg],
                None if observed is None else observed[seg],
                steps=any(steps[seg]),
                first=i == 0,
                cl=model.cl,
            )
        for j, (lo, hi) in enumerate(model.vetoed):
            if lo < mass[-1] and hi > mass[0]:
                ax.axvspan(lo, hi, color="0.85", lw=0, zorder=0, label="Vetoed" if j == 0 else None)
        values = bands[np.isfinite(bands) & (bands > 0)]
        if observed is not None:
            values = np.concatenate([values, observed[np.isfinite(observed) & (observed > 0)]])
        low, high = float(values.min()), float(values.max())
        ax.set_yscale("log")
        # Head-room for the legend: the curves use the lower 60 % of the decades.
        decades = max(math.log10(high / low), 0.5)
        ax.set_ylim(low / 10 ** (0.08 * decades), high * 10 ** (0.7 * decades))
        span = mass[-1] - mass[0]
        pad = 0.01 * span if span > 0 else 0.05 * mass[0]
        ax.set_xlim(mass[0] - pad, mass[-1] + pad)
        ax.set_xlabel(mass_axis_label(model.signal_model))
        ax.set_ylabel(f"{model.cl:.0%} CL upper limit on {unit_label(model.units)}")
        experiment_label(ax, info)
        if np.allclose(bands[0], bands[4]):
            # Without background every quantile of the expected limit is the same.
            # Two lines: one is wider than the axes at the legend's size.
            title += "\nno background expected:\nthe bands collapse onto the median"
        ax.legend(title=title, loc="upper left", ncols=2, title_fontsize="small", alignment="left")
        return save_figure(fig, stem)


def limit_plane(
    stem: Path, points: Sequence[dict[str, Any]], model: StatModel, info: LabelInfo
) -> list[Path]:
    """Median expected limit over (mass, lifetime) for a lifetime scan."""
    masses = sorted({float(p["mass"]) for p in points})
    ctaus = sorted({float(p["ctau"]) for p in points})
    grid = np.full((len(ctaus), len(masses)), np.nan)
    for p in points:
        grid[ctaus.index(float(p["ctau"])), masses.index(float(p["mass"]))] = float(
            p["expected_converted"][2]
        )
    grid[~(np.isfinite(grid) & (grid > 0))] = np.nan
    with figure_style():
        fig, ax = plt.subplots(figsize=(9, 6.5))
        x = _step_edges(np.array(masses))
        y = _step_edges(np.array(ctaus))
        mesh = ax.pcolormesh(x, y, grid, norm=LogNorm(), cmap="viridis", shading="flat")
        bar = fig.colorbar(mesh, ax=ax, pad=0.02)
        bar.set_label(f"Median expected {model.cl:.0%} CL limit on {unit_label(model.units)}")
        ax.set_xlabel(mass_axis_label(model.signal_model))
        ax.set_ylabel(r"$c\tau$ [cm]")
        ax.set_title(signal_title(model.signal_model), fontsize="small", loc="left", pad=30)
        experiment_label(ax, info)
        return save_figure(fig, stem)
