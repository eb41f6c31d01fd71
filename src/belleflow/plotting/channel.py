"""All figures of a channel's outputs, and the limit figures ``belleflow limits`` draws.

Figures of the run go to ``DIR/CHANNEL/plots/`` (``spectrum_<observable>``,
``plane_<histogram>``, ``efficiency``, ``resolution`` and ``cutflow.csv``);
figures of a statistical model go beside its ``limits.json``
(``brazil`` or ``brazil_ctau<c>cm``, ``limit_plane`` for a lifetime scan,
``significance`` unless blinded). Each as PNG and PDF.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from belleflow.limits.histograms import table_from_hist
from belleflow.limits.model import StatModel
from belleflow.naming import NOMINAL, SignalPoint, parse_signal_label
from belleflow.plotting.brazil import brazil_plot, brazil_stem, limit_plane
from belleflow.plotting.cutflow import CutflowTable, cutflow_table, write_cutflow_csv
from belleflow.plotting.efficiency import (
    efficiency_plot,
    measured_resolution,
    resolution_plot,
    signal_efficiencies,
)
from belleflow.plotting.inputs import ChannelRun, LimitSet, read_json, registered_channel
from belleflow.plotting.labels import signal_label
from belleflow.plotting.significance import significance_plot
from belleflow.plotting.spectra import SignalOverlay, plane_plot, spectrum_plot
from belleflow.plotting.style import LabelInfo

__all__ = [
    "ChannelFigures",
    "label_info",
    "limit_figures",
    "overlays",
    "plot_channel",
    "plot_limit_outputs",
]

#: Signal points overlaid on a spectrum.
N_OVERLAYS = 3


@dataclass
class ChannelFigures:
    """The PNG files of a channel, by section (PDFs are beside them)."""

    spectra: list[Path] = field(default_factory=list)
    planes: list[Path] = field(default_factory=list)
    efficiency: list[Path] = field(default_factory=list)
    limits: dict[str, list[Path]] = field(default_factory=dict)
    cutflow: CutflowTable | None = None
    cutflow_csv: Path | None = None
    problems: list[str] = field(default_factory=list)


def label_info(run: ChannelRun, limits: LimitSet | None = None) -> LabelInfo:
    """Experiment, luminosity and energy of a run, or of a model's limits.

    A model's declared sub-channels name its experiments and its limits the
    luminosity they are normalised to; otherwise the run's data samples do.
    """
    experiment = run.experiment_of(limits.model) if limits is not None else run.experiment
    luminosity = (limits.luminosity_fb if limits is not None else None) or run.luminosity_fb
    status = "Simulation" if run.blinded else "(own work)"
    return LabelInfo(experiment, luminosity, tuple(run.ecms), status)


def _point_label(point: SignalPoint, sigma_b_fb: float | None = None) -> str:
    text = f"$m_{{{signal_label(point.model).particle}}}$ = {point.mass:g} GeV"
    extra = signal_label(point.model).parameter
    if extra:
        text += f", {extra}"
    if point.ctau:
        text += rf", $c\tau$ = {point.ctau:g} cm"
    if sigma_b_fb is not None:
        value = f"{sigma_b_fb:.0f}" if 100 <= sigma_b_fb < 1e6 else f"{sigma_b_fb:.2g}"
        text += rf", $\sigma\times\mathcal{{B}}$ = {value} fb"
    return text


def _chosen_points(points: Sequence[SignalPoint]) -> list[SignalPoint]:
    """A few points spread over the mass grid, at the shortest lifetime."""
    shortest = min(p.ctau for p in points)
    grid = sorted((p for p in points if p.ctau == shortest), key=lambda p: p.mass)
    picks = {round(q * (len(grid) - 1)) for q in np.linspace(0.15, 0.85, N_OVERLAYS)}
    return [grid[i] for i in sorted(picks)]


def _expected_limit(run: ChannelRun, point: SignalPoint) -> float | None:
    """Median expected sigma x B limit (fb) of the scanned mass nearest the point."""
    for limits in run.limits:
        if limits.payload.get("signal_model") != point.model:
            continue
        rows = [p for p in limits.points if float(p["ctau"]) == point.ctau]
        if rows:
            best = min(rows, key=lambda p: abs(float(p["mass"]) - point.mass))
            value = float(best["expected"][2])
            if math.isfinite(value) and value > 0:
                return value
    return None


def overlays(
    run: ChannelRun, histogram: Any, *, across_models: bool = False
) -> list[SignalOverlay]:
    """Signal points to draw on a histogram.

    By default a few masses of the first of the channel's models found in
    it; with ``across_models`` (2-D planes) the middle mass of every model.
    Each is scaled to its median expected limit when the limits exist, else
    all to one round sigma x B that makes them about as tall as the background.
    """
    labels = [str(p) for p in histogram.axes[0]]
    points = [p for p in map(parse_signal_label, labels) if p is not None]
    # The channel's own models; a run of an unregistered channel without limits: any.
    models = run.signal_models() or list(dict.fromkeys(p.model for p in points))
    by_model = {m: [p for p in points if p.model == m] for m in models}
    by_model = {m: found for m, found in by_model.items() if found}
    if not by_model:
        return []
    if across_models:
        chosen = [
            sorted(found, key=lambda p: p.mass)[len(found) // 2] for found in by_model.values()
        ]
    else:
        chosen = _chosen_points(next(iter(by_model.values())))
    limits = [_expected_limit(run, p) for p in chosen]
    if any(v is None for v in limits):
        nominal = histogram[{"variation": NOMINAL}]
        peak = max(float(nominal[{"process": _process(p, labels)}].values().max()) for p in chosen)
        background = max(
            (
                float(nominal[{"process": lab}].values().max())
                for lab in labels
                if lab != "data" and parse_signal_label(lab) is None
            ),
            default=1.0,
        )
        common = 10.0 ** round(math.log10(max(background, 1.0) / (peak or 1.0)))
        limits = [common] * len(chosen)
    return [
        SignalOverlay(_process(p, labels), float(s), _point_label(p, s))  # type: ignore[arg-type]
        for p, s in zip(chosen, limits, strict=True)
    ]


def _process(point: SignalPoint, labels: Sequence[str]) -> str:
    return next(lab for lab in labels if parse_signal_label(lab) == point)


def limit_figures(limits: LimitSet, info: LabelInfo) -> list[Path]:
    """Brazil plot(s), lifetime plane and significance scan of one statistical model."""
    model = limits.model
    points = limits.points
    ctaus = sorted({float(p["ctau"]) for p in points})
    files: list[Path] = []
    for ctau in ctaus:
        rows = [p for p in points if float(p["ctau"]) == ctau]
        files += brazil_plot(
            brazil_stem(limits.directory, ctaus, ctau),
            rows,
            model,
            info,
            blinded=limits.blinded,
            ctau=ctau,
        )
    if len(ctaus) > 1:
        files += limit_plane(limits.directory / "limit_plane", points, model, info)
    if not limits.blinded:
        files += significance_plot(
            limits.directory / "significance",
            points,
            model,
            info,
            limits.payload.get("global_significance"),
        )
    return files


def plot_limit_outputs(payload: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """The limit figures of a freshly written ``limits.json`` (``belleflow limits``).

    The label comes from the run report of the channel (``out_dir`` or its
    parent), else from the registered channel's experiments.
    """
    limits = LimitSet(out_dir.name, out_dir, payload)
    model = limits.model
    for folder in (out_dir, out_dir.parent):
        if (folder / "report.json").exists() and folder.name == model.channel:
            run = ChannelRun(model.channel, folder, read_json(folder / "report.json"), [limits])
            info = label_info(run, limits)
            break
    else:
        channel = registered_channel(model.channel)
        experiments = getattr(channel, "experiments", ())
        if model.subchannels:
            experiments = tuple(sorted({s.experiment for s in model.subchannels}))
        info = LabelInfo(" + ".join(experiments), limits.luminosity_fb, (), "Simulation")
    return {p.name: p for p in limit_figures(limits, info)}


def plot_channel(run: ChannelRun, observables: Sequence[str] | None = None) -> ChannelFigures:
    """Draw every figure of a channel's outputs (see the module docstring).

    Args:
        run: The channel's outputs.
        observables: Only these histograms (default: all).

    Returns:
        The PNG paths by section, the cutflow table, and problems met (a
        figure that could not be drawn is reported, not fatal).
    """
    figures = ChannelFigures()
    plots = run.directory / "plots"
    info = label_info(run)
    histograms = run.histograms
    unknown = sorted(set(observables or ()) - set(histograms))
    if unknown:
        msg = (
            f"{run.name}: no histogram {', '.join(unknown)} (have {', '.join(sorted(histograms))})"
        )
        raise ValueError(msg)
    for name in observables or sorted(histograms):
        h = histograms[name]
        signals = overlays(run, h)
        if h.ndim == 3:
            axis = h.axes[2].name
            figures.spectra += spectrum_plot(
                plots / f"spectrum_{name}",
                h,
                info,
                signals=signals,
                blinded_windows=run.signal_windows(axis),
            )[:1]
        elif h.ndim == 4:
            windows = (run.signal_windows(h.axes[2].name), run.signal_windows(h.axes[3].name))
            signals = overlays(run, h, across_models=True)
            figures.planes += plane_plot(
                plots / f"plane_{name}", h, info, signals=signals, blinded_windows=windows
            )[:1]
    models = run.signal_models()
    cut = getattr(run.channel, "signal_region_cut", None)
    points = signal_efficiencies(run.report, models, cut)
    if points:
        window = _window_efficiencies(run.limits)
        figures.efficiency += efficiency_plot(plots / "efficiency", points, info, window)[:1]
    stat_models = [s.model for s in run.limits]
    if stat_models:
        measured = _measured_resolutions(run, stat_models)
        figures.efficiency += resolution_plot(plots / "resolution", stat_models, measured, info)[:1]
    overlay_samples = {}
    for h in histograms.values():
        for o in overlays(run, h):
            overlay_samples.update(_samples_of(run, o))
        if overlay_samples:
            break
    figures.cutflow = cutflow_table(run.report, overlay_samples)
    figures.cutflow_csv = write_cutflow_csv(figures.cutflow, plots / "cutflow.csv")
    for limits in run.limits:
        try:
            pngs = limit_figures(limits, label_info(run, limits))
        except ValueError as err:
            figures.problems.append(f"{run.name}/{limits.name}: {err}")
            continue
        figures.limits[limits.name] = [p for p in pngs if p.suffix == ".png"]
    return figures


def _window_efficiencies(
    limit_sets: Sequence[LimitSet],
) -> dict[tuple[str, float], list[tuple[float, float]]]:
    """(model, ctau) -> (mass, efficiency in the window) from the limits' ``signal`` tables.

    Only the first sub-channel of a combination: its efficiency is the one
    comparable with the channel's own cutflow.
    """
    out: dict[tuple[str, float], list[tuple[float, float]]] = {}
    for limits in limit_sets:
        rows = [r for r in limits.payload.get("signal") or [] if r.get("window_efficiency")]
        first = rows[0]["subchannel"] if rows else None
        for row in rows:
            if row["subchannel"] == first:
                key = (str(limits.payload["signal_model"]), float(row["ctau"]))
                out.setdefault(key, []).append(
                    (float(row["mass"]), float(row["window_efficiency"]))
                )
    return out


def _samples_of(run: ChannelRun, overlay: SignalOverlay) -> dict[str, str]:
    """Report sample names of an overlaid signal point, labelled as on the figure."""
    point = parse_signal_label(overlay.process)
    label = signal_label(point.model).title if point else overlay.process
    names = {}
    for name, sample in run.report.get("samples", {}).items():
        if sample.get("process") == overlay.process:
            names[name] = f"{label}: {_point_label(point)}" if point else label
    return names


def _measured_resolutions(
    run: ChannelRun, models: Sequence[StatModel]
) -> dict[str, list[tuple[float, float]]]:
    """Measured peak widths of every signal point of each model's observable."""
    out: dict[str, list[tuple[float, float]]] = {}
    for model in models:
        h = run.histograms.get(model.observable)
        if h is None or h.ndim != 3:
            continue
        table = table_from_hist(h)
        shortest = min((p.ctau for p in table.signal_points(model.signal_model)), default=0.0)
        for point, process in table.signal_points(model.signal_model).items():
            if point.ctau != shortest:
                continue
            width = measured_resolution(table, process, point.mass, model.resolution(point.mass))
            out.setdefault(model.signal_model, []).append((point.mass, width))
    return out
