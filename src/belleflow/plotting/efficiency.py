"""Signal efficiency and mass resolution against the signal mass.

The efficiency of a signal point is the fraction of its generated events
that pass the channel's last cut (its signal-region cut), from the run
report's cutflow, with a Clopper-Pearson 68.3 % interval.

The resolution is shown twice: the declared ``sigma(m)`` of the statistical
model (what the limits use) as a line, and the width measured on each
signal point's histogram as points, so that a model that drifted from the
simulation shows. The measured width is half the narrowest interval that
holds 68.3 % of the signal within ten declared resolutions of its mass:
robust against radiative tails, and equal to sigma for a Gaussian.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from hist.intervals import clopper_pearson_interval

from belleflow.limits.histograms import HistogramTable
from belleflow.limits.model import StatModel
from belleflow.plotting.labels import ctau_text, mass_axis_label, signal_label, signal_title
from belleflow.plotting.style import (
    SIGNAL_COLOURS,
    LabelInfo,
    experiment_label,
    figure_style,
    save_figure,
)

__all__ = [
    "EfficiencyPoint",
    "efficiency_plot",
    "measured_resolution",
    "resolution_plot",
    "signal_efficiencies",
]

#: Fraction of a Gaussian within one sigma of its mean.
ONE_SIGMA = 0.682689492137


@dataclass(frozen=True)
class EfficiencyPoint:
    """Events of one signal point generated and passing the selection."""

    model: str
    mass: float
    ctau: float
    passed: float
    total: float

    @property
    def efficiency(self) -> float:
        """``passed / total``."""
        return self.passed / self.total if self.total else float("nan")


def signal_efficiencies(
    report: Mapping[str, Any], models: Sequence[str], cut: str | None = None
) -> list[EfficiencyPoint]:
    """Selection efficiency of every signal point of ``models`` in a run report.

    Args:
        report: ``report.json`` (its ``samples`` and ``cutflow``).
        models: Signal models to keep.
        cut: The cut whose survivors count as selected (default: the last).

    Returns:
        One point per signal sample, sorted by model, lifetime and mass.
    """
    out = []
    samples = report.get("samples", {})
    for name, cutflow in report.get("cutflow", {}).items():
        sample = samples.get(name, {})
        if sample.get("kind") != "signal" or sample.get("model") not in models or not cutflow:
            continue
        cuts = list(cutflow)
        final = cut if cut in cutflow else cuts[-1]
        out.append(
            EfficiencyPoint(
                model=str(sample["model"]),
                mass=float(sample["mass"]),
                ctau=float(sample.get("ctau") or 0.0),
                passed=float(cutflow[final][0]),
                total=float(cutflow[cuts[0]][0]),
            )
        )
    return sorted(out, key=lambda p: (models.index(p.model), p.ctau, p.mass))


def measured_resolution(table: HistogramTable, process: str, mass: float, sigma: float) -> float:
    """Half-width of the narrowest interval with 68.3 % of a signal peak (NaN if empty).

    Only bins within ``10 * sigma`` of ``mass`` count: combinatorial
    candidates far from the peak are not resolution.
    """
    edges = table.edges
    values = table.get(process)
    centres = 0.5 * (edges[1:] + edges[:-1])
    near = np.abs(centres - mass) < 10.0 * sigma
    contents = np.where(near, values, 0.0)
    total = contents.sum()
    if total <= 0:
        return float("nan")
    cumulative = np.concatenate([[0.0], np.cumsum(contents)])
    target = ONE_SIGMA * total
    # Intervals starting at each edge, their end interpolated linearly inside
    # its bin (and mirrored: ending at each edge), so that the width is not
    # quantised to the fine binning (about a third of sigma).
    starts = cumulative[cumulative + target <= total]
    ends = cumulative[cumulative >= target]
    widths = np.concatenate(
        [
            _position(starts + target, cumulative, edges) - _position(starts, cumulative, edges),
            _position(ends, cumulative, edges) - _position(ends - target, cumulative, edges),
        ]
    )
    return float(0.5 * widths.min()) if widths.size else float("nan")


def _position(
    levels: npt.NDArray[np.float64],
    cumulative: npt.NDArray[np.float64],
    edges: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Where the cumulative content reaches ``levels`` (first crossing, linear in a bin)."""
    right = np.clip(np.searchsorted(cumulative, levels, side="left"), 1, len(cumulative) - 1)
    left = right - 1
    step = cumulative[right] - cumulative[left]
    fraction = np.where(step > 0, (levels - cumulative[left]) / np.where(step > 0, step, 1), 0.0)
    return edges[left] + np.clip(fraction, 0.0, 1.0) * (edges[right] - edges[left])


def _curve_label(model: str, ctau: float, several_ctaus: bool) -> str:
    return signal_title(model) + (", " + ctau_text(ctau) if several_ctaus else "")


def _mass_label(models: Sequence[str]) -> str:
    particles = {signal_label(m).particle for m in models}
    return mass_axis_label(models[0]) if len(particles) == 1 else "Signal mass [GeV]"


def efficiency_plot(
    stem: Path,
    points: Sequence[EfficiencyPoint],
    info: LabelInfo,
    window: Mapping[tuple[str, float], Sequence[tuple[float, float]]] | None = None,
) -> list[Path]:
    """Selection efficiency against mass, one curve per (model, lifetime).

    Args:
        stem: Output path without suffix.
        points: Events generated and selected per signal point.
        info: The experiment label.
        window: (model, ctau) -> (mass, efficiency) inside the mass window the
            limits count (``limits.json``'s ``signal`` table), drawn dashed
            with open markers in the colour of the selection curve.
    """
    if not points:
        msg = f"{stem}: no signal points to draw"
        raise ValueError(msg)
    models = list(dict.fromkeys(p.model for p in points))
    curves: dict[tuple[str, float], list[EfficiencyPoint]] = {}
    for p in points:
        curves.setdefault((p.model, p.ctau), []).append(p)
    several = len({c for _, c in curves}) > 1
    with figure_style():
        fig, ax = plt.subplots(figsize=(9, 6.5))
        for (model, ctau), rows, colour, marker in zip(
            curves, curves.values(), SIGNAL_COLOURS * 8, "osD^v<>ph" * 8, strict=False
        ):
            mass = np.array([r.mass for r in rows])
            passed = np.array([r.passed for r in rows])
            total = np.array([r.total for r in rows])
            eff = passed / total
            lo, hi = clopper_pearson_interval(passed, total)
            ax.errorbar(
                mass,
                eff,
                yerr=[eff - lo, hi - eff],
                color=colour,
                marker=marker,
                ms=5,
                lw=1.2,
                label=_curve_label(model, ctau, several),
            )
            inside = sorted((window or {}).get((model, ctau), ()))
            if inside:
                ax.plot(
                    *zip(*inside, strict=True),
                    color=colour,
                    marker=marker,
                    mfc="none",
                    ms=5,
                    ls="--",
                    lw=1,
                )
        if window:
            ax.plot(
                [],
                [],
                color="0.3",
                marker="o",
                mfc="none",
                ls="--",
                lw=1,
                label="open: inside the mass window of the limits",
            )
        top = max(p.efficiency for p in points)
        ax.set_ylim(0, min(1.0, 1.6 * top + 0.02))
        ax.set_xlabel(_mass_label(models))
        ax.set_ylabel("Selection efficiency")
        ax.legend(loc="upper left", fontsize="x-small")
        experiment_label(ax, LabelInfo(info.experiment, None, info.ecms, "Simulation"))
        return save_figure(fig, stem)


def resolution_plot(
    stem: Path,
    models: Sequence[StatModel],
    measured: Mapping[str, Sequence[tuple[float, float]]],
    info: LabelInfo,
) -> list[Path]:
    """Declared resolution of each model (lines) and measured widths (points).

    Args:
        stem: Output path without suffix.
        models: Statistical models (models with the same resolution drawn once).
        measured: Signal model -> (mass, measured width) pairs.
        info: The experiment label.
    """
    with figure_style():
        fig, ax = plt.subplots(figsize=(9, 6.5))
        seen: list[Any] = []
        colours = iter(SIGNAL_COLOURS * 8)
        for model in models:
            pairs = sorted(measured.get(model.signal_model, ()))
            colour = next(colours)
            masses = [m for m, _ in pairs] or list(model.mass_range)
            if model.resolution not in seen:
                seen.append(model.resolution)
                shared = all(m.resolution == model.resolution for m in models)
                name = "all models" if shared else signal_title(model.signal_model)
                grid = np.linspace(
                    min(*masses, model.mass_range[0]), max(*masses, model.mass_range[1]), 300
                )
                ax.plot(
                    grid,
                    [1e3 * model.resolution(m) for m in grid],
                    color=colour,
                    lw=1.5,
                    label=rf"Declared $\sigma(m)$: {name}",
                )
            if pairs:
                width = np.array([w for _, w in pairs])
                ok = np.isfinite(width)
                ax.plot(
                    np.array(masses)[ok],
                    1e3 * width[ok],
                    "o",
                    color=colour,
                    ms=5,
                    label=f"Measured: {signal_title(model.signal_model)}",
                )
        ax.set_ylim(0, 1.5 * ax.get_ylim()[1])
        ax.set_xlabel(_mass_label([m.signal_model for m in models]))
        ax.set_ylabel("Mass resolution [MeV]")
        ax.legend(loc="upper left", fontsize="x-small")
        experiment_label(ax, LabelInfo(info.experiment, None, info.ecms, "Simulation"))
        return save_figure(fig, stem)
