"""``DIR/report.html``: one self-contained page for a whole run.

Per channel: spectra, 2-D planes, the cutflow table (raw and weighted, per
process), signal efficiency and resolution, per statistical model the
Brazil plot(s), lifetime plane and local-significance scan, the results of
``belleflow validate`` when present, and the provenance. Figures are drawn
(or redrawn) with :func:`belleflow.plotting.plot_channel` and embedded as
base64 PNG, so the page can be mailed on its own.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from belleflow import __version__
from belleflow.plotting import ChannelRun, find_channels, load_channel_run, plot_channel
from belleflow.plotting.cutflow import CutflowTable
from belleflow.plotting.inputs import LimitSet, read_json
from belleflow.plotting.labels import (
    ctau_text,
    html_label,
    luminosity_label,
    signal_title,
    unit_label,
)
from belleflow.report.provenance import Provenance, git_revision, provenance

__all__ = ["ChannelSection", "Figure", "write_report"]


@dataclass(frozen=True)
class Figure:
    """An embedded image and its caption."""

    src: str
    caption: str


@dataclass
class ChannelSection:
    """What the page shows of one channel."""

    name: str
    description: str
    experiment: str
    luminosity: str
    blinded: bool
    complete: bool
    provenance: Provenance
    spectra: list[Figure] = field(default_factory=list)
    planes: list[Figure] = field(default_factory=list)
    efficiency: list[Figure] = field(default_factory=list)
    cutflow: dict[str, Any] | None = None
    models: list[dict[str, Any]] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    validation: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)


def _html(label: str) -> Markup:
    """A mathtext label as safe HTML (escaped by :func:`html_label`)."""
    return Markup(html_label(label))


def _embed(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _caption(path: Path) -> str:
    """A caption from the file name the plotting package gives each figure."""
    stem = path.stem
    if stem.startswith("spectrum_"):
        return f"{stem.removeprefix('spectrum_')}: data, stacked simulation and signals"
    if stem.startswith("plane_"):
        return f"{stem.removeprefix('plane_')}: simulated background, data and signal"
    if stem.startswith("brazil_ctau"):
        ctau = float(stem.removeprefix("brazil_ctau").removesuffix("cm"))
        return "Upper limits, " + _html(ctau_text(ctau))
    return {
        "brazil": "Upper limits",
        "limit_plane": "Median expected limit over mass and lifetime",
        "significance": "Local significance",
        "efficiency": "Selection efficiency against signal mass",
        "resolution": "Mass resolution: declared (line) and measured on the signal (points)",
    }.get(stem, stem)


def _figures(paths: Iterable[Path]) -> list[Figure]:
    return [Figure(_embed(p), _caption(p)) for p in paths]


def _count(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.4g}"


def _weighted(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def _cutflow(table: CutflowTable) -> dict[str, Any]:
    return {
        "cuts": table.cuts,
        "rows": [
            {
                "label": _html(row.label),
                "kind": row.kind,
                "cells": [
                    (_count(r), _weighted(w)) for r, w in zip(row.raw, row.weighted, strict=True)
                ],
            }
            for row in table.rows
        ],
    }


def _finite(values: Iterable[Any]) -> list[float]:
    """The finite numbers among limits (null or NaN where a fit failed)."""
    return [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]


def _best_worst(values: Sequence[float]) -> str:
    return f"{min(values):.3g} / {max(values):.3g}" if values else "-"


def _model_view(limits: LimitSet, pngs: Sequence[Path]) -> dict[str, Any]:
    """One statistical model's row of the summary and its section."""
    payload = limits.payload
    points = limits.points
    masses = [float(p["mass"]) for p in points]
    expected = _finite(p["expected_converted"][2] for p in points)
    observed = (
        [] if limits.blinded else _finite(p.get("observed_converted", math.nan) for p in points)
    )
    g = payload.get("global_significance") or {}
    if limits.blinded:
        z = "blinded"
    elif g.get("mass") is not None:
        z = f"{g['z_local']:.2f}\u03c3 at {g['mass']:.4g} GeV (global {g['z_global']:.2f}\u03c3)"
    else:
        z = "-"
    title = signal_title(str(payload["signal_model"]))
    ctaus = sorted({float(p["ctau"]) for p in points})
    if len(ctaus) > 1 or (ctaus and ctaus[0] > 0):
        title += ", " + ", ".join(ctau_text(c) for c in ctaus)
    methods = ", ".join(f"{n} {m}" for m, n in payload.get("methods", {}).items())
    return {
        "name": limits.name,
        "title": _html(title),
        "cl": f"{float(payload['cl']):.0%}",
        "units": _html(unit_label(str(payload["units"]))),
        "expected": _best_worst(expected),
        "observed": "blinded" if limits.blinded else _best_worst(observed),
        "z": z,
        "blinded": limits.blinded,
        "n_points": len(points),
        "methods": methods,
        "mass_range": f"{min(masses):.4g}-{max(masses):.4g} GeV" if masses else "",
        "figures": _figures(pngs),
    }


def _verdict(passed: Any) -> str:
    """``pass``, ``fail``, or whatever else a check says (nothing when it says nothing)."""
    if isinstance(passed, bool):
        return "pass" if passed else "fail"
    return "" if passed is None else str(passed)


def _validation(run: ChannelRun) -> dict[str, Any] | None:
    """``validation/validation.json`` and its figures, if ``belleflow validate`` ran."""
    path = run.validation_dir / "validation.json"
    if not path.exists():
        return None
    payload = read_json(path)
    checks = []
    entries = payload.get("checks", [])
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        passed = entry.get("passed")
        result = _verdict(passed)
        # belleflow validate's checks: study, name, figure, expectation, passed, value.
        known = {"study", "name", "figure", "expectation", "passed", "value"}
        details = str(entry.get("expectation", ""))
        if isinstance(entry.get("value"), int | float):
            details += f" (value {entry['value']:.4g})"
        extra = {k: v for k, v in entry.items() if k not in known}
        if extra:
            details += " " + json.dumps(extra, default=str)[:400]
        study = entry.get("study")
        checks.append(
            {
                "name": f"{study}: {entry.get('name', '')}"
                if study
                else str(entry.get("name", "")),
                "result": result,
                "css": result if result in {"pass", "fail"} else "",
                "details": details.strip(),
            }
        )
    figures = sorted(run.validation_dir.glob("*.png"))
    return {
        "verdict": _verdict(payload.get("passed")),
        "model": str(payload.get("model", "")),
        "checks": checks,
        "raw": json.dumps(payload, indent=1, default=str)[:50_000],
        "figures": _figures(figures),
    }


def _section(
    run: ChannelRun, observables: Sequence[str] | None, hashes: dict[str, str | None]
) -> ChannelSection:
    section = ChannelSection(
        name=run.name,
        description=str(run.report.get("description", "")),
        experiment=run.experiment,
        luminosity=luminosity_label(run.luminosity_fb).replace("$^{-1}$", "\u207b\u00b9") or "-",
        blinded=run.blinded,
        complete=bool(run.report.get("complete", False)),
        provenance=provenance(
            run.name,
            run.report,
            luminosity_fb=run.luminosity_fb,
            blinded=run.blinded,
            hashes=hashes,
        ),
    )
    if not section.complete:
        reason = run.report.get("incomplete_reason") or run.report.get("error") or "see report.json"
        section.problems.append(f"The run is incomplete: {reason}.")
    try:
        figures = plot_channel(run, observables)
    except (OSError, ValueError, KeyError) as err:
        section.problems.append(f"Figures could not be drawn: {err}")
        return section
    section.problems += figures.problems
    section.spectra = _figures(figures.spectra)
    section.planes = _figures(figures.planes)
    section.efficiency = _figures(figures.efficiency)
    section.cutflow = (
        _cutflow(figures.cutflow) if figures.cutflow and figures.cutflow.rows else None
    )
    for limits in run.limits:
        view = _model_view(limits, figures.limits.get(limits.name, []))
        section.models.append(view)
        section.summary.append(view)
    section.validation = _validation(run)
    return section


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("belleflow.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def write_report(
    run_dir: str | os.PathLike[str],
    channels: Sequence[str] | None = None,
    *,
    observables: Sequence[str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> Path:
    """Draw every figure of a run and write ``run_dir/report.html``.

    Args:
        run_dir: Output folder of ``belleflow run`` (and ``belleflow limits``).
        channels: Channels to include (default: every channel with a ``report.json``).
        observables: Only these histograms' spectra (default: all).
        echo: Progress messages, one per channel.

    Returns:
        The path of the page.

    Raises:
        FileNotFoundError: No such folder, no channel outputs in it, or an
            asked-for channel is missing.
    """
    root = Path(run_dir)
    names = list(channels) if channels else find_channels(root)
    if not names:
        msg = f"{root}: no channel outputs (no CHANNEL/report.json): run `belleflow run` first"
        raise FileNotFoundError(msg)
    runs = [load_channel_run(root, name) for name in names]
    hashes: dict[str, str | None] = {}
    sections = []
    for run in runs:
        if echo is not None:
            echo(f"report: {run.name}")
        sections.append(_section(run, observables, hashes))
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=root.resolve().name,
            run_dir=str(root.resolve()),
            generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            version=__version__,
            report_git=git_revision(),
            channels=sections,
        )
    )
    target = root / "report.html"
    tmp = target.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(target)
    return target
