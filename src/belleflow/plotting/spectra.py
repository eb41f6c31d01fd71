"""Spectra: data against the stacked simulation, with signals and a ratio panel.

A channel's histograms are finely binned (bins matched to the mass
resolution, thousands of them); :func:`coarse_edges` merges them into about
``n_bins`` bins for the figure. Contents are drawn per a fixed bin width
("Events / 0.1 GeV"), so merged bins of slightly different widths compare
correctly. Simulation is stacked by process (processes below 1 % of the
total are merged into "Other"), with its statistical uncertainty hatched;
data are points with Garwood (exact Poisson, 68.3 %) intervals; signals of a
few masses are lines at a stated sigma x B. Where a blinded run filled no
data (the signal windows) the data points are left out and the window is
shaded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mplhep as hep
import numpy as np
import numpy.typing as npt
from hist.intervals import poisson_interval
from matplotlib.colors import LogNorm

from belleflow.limits.histograms import HistogramTable, table_from_hist
from belleflow.naming import DATA, NOMINAL
from belleflow.plotting.labels import process_label
from belleflow.plotting.style import (
    PALETTE,
    SIGNAL_COLOURS,
    LabelInfo,
    experiment_label,
    figure_style,
    save_figure,
)

__all__ = ["SignalOverlay", "coarse_edges", "plane_plot", "spectrum_plot"]

FloatArray = npt.NDArray[np.float64]

#: Processes below this fraction of the simulated total are drawn as "Other".
MINOR_FRACTION = 0.01
#: At most this many processes are stacked individually.
MAX_PROCESSES = 8


@dataclass(frozen=True)
class SignalOverlay:
    """A signal grid point drawn on a spectrum at ``sigma_b_fb`` (its label says which)."""

    process: str
    sigma_b_fb: float
    label: str


def coarse_edges(edges: FloatArray, low: float, high: float, n_bins: int) -> npt.NDArray[np.intp]:
    """Indices of ``edges`` closest to ``n_bins`` equal steps from ``low`` to ``high``.

    Examples:
        >>> coarse_edges(np.linspace(0.0, 1.0, 101), 0.0, 1.0, 4).tolist()
        [0, 25, 50, 75, 100]
    """
    targets = np.linspace(low, high, n_bins + 1)
    index = np.unique(np.abs(edges[None, :] - targets[:, None]).argmin(axis=1))
    return index.astype(np.intp)


def _merge(values: FloatArray, index: npt.NDArray[np.intp]) -> FloatArray:
    """Sum fine bins into the coarse bins between ``index`` edges."""
    return np.add.reduceat(values, index[:-1])[: len(index) - 1]


def _content_range(table: HistogramTable, processes: Sequence[str]) -> tuple[float, float]:
    """The observable range where any of ``processes`` has entries."""
    filled = np.zeros(len(table.edges) - 1, dtype=bool)
    for p in processes:
        filled |= table.get(p) != 0
    if not filled.any():
        return float(table.edges[0]), float(table.edges[-1])
    where = np.flatnonzero(filled)
    low, high = float(table.edges[where[0]]), float(table.edges[where[-1] + 1])
    pad = 0.03 * (high - low)
    return max(float(table.edges[0]), low - pad), min(float(table.edges[-1]), high + pad)


def _nice_width(width: float) -> float:
    """Round a bin width to 1, 2 or 5 times a power of ten (for the axis label)."""
    exponent = math.floor(math.log10(width))
    return min((m * 10.0**exponent for m in (1, 2, 5, 10)), key=lambda w: abs(w - width))


def _group_backgrounds(
    table: HistogramTable, index: npt.NDArray[np.intp]
) -> list[tuple[str, FloatArray, FloatArray]]:
    """(label, contents, variances) per stacked process, smallest first, minor ones merged."""
    rows = []
    for p in table.background_processes():
        values = _merge(table.get(p), index)
        variances = table.variance(p)
        var = _merge(variances, index) if variances is not None else np.zeros_like(values)
        rows.append((p, values, var))
    total = sum(float(v.sum()) for _, v, _ in rows)
    rows = [r for r in rows if r[1].sum() > 0]
    rows.sort(key=lambda r: float(r[1].sum()), reverse=True)
    major = [r for r in rows if r[1].sum() >= MINOR_FRACTION * total][: MAX_PROCESSES - 1]
    minor = rows[len(major) :]
    grouped = [(process_label(p), v, var) for p, v, var in major]
    if minor:
        grouped.append(
            ("Other", sum(v for _, v, _ in minor), sum(var for _, _, var in minor))  # type: ignore[arg-type]
        )
    return grouped[::-1]


def _blinded_bins(
    edges: FloatArray, windows: Sequence[tuple[float, float]]
) -> npt.NDArray[np.bool_]:
    """Coarse bins that overlap a window where data was not filled."""
    mask = np.zeros(len(edges) - 1, dtype=bool)
    for lo, hi in windows:
        mask |= (edges[:-1] < hi) & (edges[1:] > lo)
    return mask


def spectrum_plot(
    stem: Path,
    histogram: Any,
    info: LabelInfo,
    *,
    signals: Sequence[SignalOverlay] = (),
    blinded_windows: Sequence[tuple[float, float]] = (),
    n_bins: int = 50,
    xlabel: str | None = None,
    logy: bool = True,
) -> list[Path]:
    """Draw one observable's spectrum with a data/simulation ratio panel.

    Args:
        stem: Output path without suffix.
        histogram: ``hist.Hist`` with axes (process, variation, observable).
        info: The experiment label.
        signals: Signal points to overlay, each at its sigma x B.
        blinded_windows: Observable windows with no data (a blinded run).
        n_bins: About this many bins in the figure.
        xlabel: Axis label (default: the histogram axis label).
        logy: Logarithmic event axis.

    Returns:
        The PNG and PDF paths.
    """
    table = table_from_hist(histogram)
    has_data = table.has(DATA)
    low, high = _content_range(table, table.processes)
    index = coarse_edges(table.edges, low, high, n_bins)
    edges = table.edges[index]
    widths = np.diff(edges)
    unit = _nice_width(float(np.median(widths)))
    scale = unit / widths  # events per `unit` GeV
    stack = _group_backgrounds(table, index)
    total = sum((v for _, v, _ in stack), np.zeros(len(widths)))
    total_var = sum((var for _, _, var in stack), np.zeros(len(widths)))
    blind = _blinded_bins(edges, blinded_windows)
    centres = 0.5 * (edges[1:] + edges[:-1])

    data = _merge(table.get(DATA), index) if has_data else None
    # A ratio panel needs data points: none when the whole range is blinded or empty.
    with_ratio = data is not None and bool(np.any((data > 0) & ~blind))
    with figure_style():
        if with_ratio:
            fig, (ax, rax) = plt.subplots(
                2,
                1,
                figsize=(10, 8),
                sharex=True,
                gridspec_kw={"height_ratios": (3, 1), "hspace": 0.06},
            )
        else:
            fig, ax = plt.subplots(figsize=(10, 6.5))
            rax = None
        if stack:
            hep.histplot(
                [v * scale for _, v, _ in stack],
                bins=edges,
                stack=True,
                histtype="fill",
                label=[lab for lab, _, _ in stack],
                color=list(PALETTE[: len(stack)])[::-1],
                ax=ax,
            )
            err = np.sqrt(total_var) * scale
            ax.stairs(
                (total * scale) + err,
                edges,
                baseline=(total * scale) - err,
                fill=True,
                facecolor="none",
                edgecolor="0.25",
                hatch="////",
                lw=0,
                label="Sim. stat. unc.",
            )
        signal_values = []
        for overlay, colour in zip(signals, SIGNAL_COLOURS, strict=False):
            values = _merge(table.get(overlay.process), index) * overlay.sigma_b_fb
            signal_values.append(values)
            ax.stairs(values * scale, edges, color=colour, lw=2, label=overlay.label)
        if data is not None:
            lo, hi = poisson_interval(data)
            show = ~blind & ((data > 0) | (not logy))
            ax.errorbar(
                centres[show],
                (data * scale)[show],
                yerr=[((data - lo) * scale)[show], ((hi - data) * scale)[show]],
                fmt="ko",
                ms=4,
                lw=1.2,
                label="Data",
            )
        for j, (lo_w, hi_w) in enumerate(blinded_windows):
            for a in (ax, rax) if rax is not None else (ax,):
                a.axvspan(
                    max(lo_w, edges[0]),
                    min(hi_w, edges[-1]),
                    color="0.5",
                    alpha=0.15,
                    lw=0,
                    label="Blinded" if j == 0 and a is ax else None,
                )
        ax.set_ylabel(f"Events / {unit:g} GeV")
        drawn_values = [total * scale] + [v * scale for v in signal_values]
        if data is not None:
            drawn_values.append(data * scale)
        _y_range(ax, np.concatenate(drawn_values), logy)
        experiment_label(ax, info)
        # Beside the axes: a legend of a dozen entries inside would hide the spectrum.
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(
            handles[::-1],
            labels[::-1],
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize="x-small",
        )
        bottom = ax
        if rax is not None and data is not None:
            _ratio(rax, centres, edges, total, total_var, data, blind)
            bottom = rax
        bottom.set_xlabel(xlabel or histogram.axes[2].label or histogram.axes[2].name)
        bottom.set_xlim(edges[0], edges[-1])
        return save_figure(fig, stem)


def _y_range(ax: Any, values: FloatArray, logy: bool) -> None:
    """Fit the drawn ``values``; on a log axis down to 1e-4 of the largest."""
    high = float(values.max(initial=0.0)) or 1.0
    if logy:
        ax.set_yscale("log")
        positive = values[values > 0]
        floor = max(float(positive.min(initial=high)) * 0.5, high * 1e-4)
        ax.set_ylim(floor, high * 3.0)
    else:
        ax.set_ylim(0, 1.15 * high)


def _ratio(
    rax: Any,
    centres: FloatArray,
    edges: FloatArray,
    total: FloatArray,
    total_var: FloatArray,
    data: FloatArray,
    blind: npt.NDArray[np.bool_],
) -> None:
    """Data / simulation with Garwood intervals, and the simulation's uncertainty band."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(total > 0, np.sqrt(total_var) / total, np.nan)
        rax.stairs(1 + rel, edges, baseline=1 - rel, fill=True, facecolor="0.75", lw=0)
        lo, hi = poisson_interval(data)
        # Empty data bins are left out, as in the main panel: with a small expectation
        # their 0 (+1.8 / expectation) bars would hide the bins that have data.
        ok = (total > 0) & (data > 0) & ~blind
        rax.errorbar(
            centres[ok],
            (data / total)[ok],
            yerr=[((data - lo) / total)[ok], ((hi - data) / total)[ok]],
            fmt="ko",
            ms=4,
            lw=1.2,
        )
    rax.axhline(1.0, color="k", lw=1)
    rax.set_ylim(0, 2.5)
    rax.set_ylabel("Data / Sim.")


def plane_plot(
    stem: Path,
    histogram: Any,
    info: LabelInfo,
    *,
    signals: Sequence[SignalOverlay] = (),
    blinded_windows: tuple[Sequence[tuple[float, float]], Sequence[tuple[float, float]]] = ((), ()),
) -> list[Path]:
    """Two-observable plane: simulated background, data and signal side by side.

    Args:
        stem: Output path without suffix.
        histogram: ``hist.Hist`` with axes (process, variation, x, y).
        info: The experiment label.
        signals: Signal points summed into the right-hand panel.
        blinded_windows: Windows of x and of y where a blinded run filled no data.
    """
    from belleflow.naming import parse_signal_label  # noqa: PLC0415

    nominal = histogram[{"variation": NOMINAL}]
    processes = [str(p) for p in nominal.axes[0]]
    backgrounds = [p for p in processes if p != DATA and parse_signal_label(p) is None]
    xaxis, yaxis = nominal.axes[1], nominal.axes[2]

    def content(names: Sequence[str], weights: Sequence[float] | None = None) -> FloatArray:
        total = np.zeros((len(xaxis), len(yaxis)))
        for i, name in enumerate(names):
            total += nominal[{"process": name}].values() * (1.0 if weights is None else weights[i])
        return total

    panels = [("Simulated background", content(backgrounds))]
    if DATA in processes:
        panels.append(("Data", content([DATA])))
    if signals:
        names = [s.process for s in signals]
        panels.append(("Signal", content(names, [s.sigma_b_fb for s in signals])))
    with figure_style():
        fig, axes = plt.subplots(1, len(panels), figsize=(8.5 * len(panels), 6.5), squeeze=False)
        fig.subplots_adjust(wspace=0.45)
        for ax, (title, values) in zip(axes[0], panels, strict=True):
            positive = values[values > 0]
            if positive.size:
                norm = LogNorm(vmin=positive.min(), vmax=positive.max())
                masked = np.ma.masked_less_equal(values, 0)
                mesh = ax.pcolormesh(xaxis.edges, yaxis.edges, masked.T, norm=norm, cmap="viridis")
                fig.colorbar(mesh, ax=ax, pad=0.02).set_label("Events / bin")
            else:
                ax.text(0.5, 0.5, "no entries", transform=ax.transAxes, ha="center", va="center")
            if title == "Data":
                for lo, hi in blinded_windows[0]:
                    ax.axvspan(lo, hi, color="0.5", alpha=0.2, lw=0, label="Blinded")
                for lo, hi in blinded_windows[1]:
                    ax.axhspan(lo, hi, color="0.5", alpha=0.2, lw=0)
            if title == "Signal":
                # Which points, at which sigma x B: one line each, under the panel.
                ax.text(
                    0.0,
                    -0.16,
                    "\n".join(s.label for s in signals),
                    transform=ax.transAxes,
                    va="top",
                    fontsize="x-small",
                )
            ax.set_xlim(xaxis.edges[0], xaxis.edges[-1])
            ax.set_ylim(yaxis.edges[0], yaxis.edges[-1])
            ax.set_xlabel(xaxis.label or xaxis.name)
            ax.set_ylabel(yaxis.label or yaxis.name)
            ax.set_title(title, fontsize="small", loc="left", pad=32)
            experiment_label(ax, info)
        return save_figure(fig, stem)
