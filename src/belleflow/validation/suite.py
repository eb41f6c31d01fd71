"""``validate_channel``: every validation study of one channel, its checks and outputs.

Examples:
    From Python (the command is ``belleflow validate four_muon --in belleflow-demo``)::

        from belleflow.validation import ValidationSettings, validate_channel

        result = validate_channel("four_muon", "belleflow-demo", ValidationSettings.reduced())
        print(result.passed, [c.name for c in result.checks if not c.passed])
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from belleflow.limits.api import (
    build_hypotheses,
    load_run_histograms,
    resolve_models,
    scan_points,
    with_run_floor,
)
from belleflow.limits.histograms import table_from_hist
from belleflow.limits.model import StatModel
from belleflow.validation.checks import (
    Check,
    bias_checks,
    bias_significance,
    coverage_checks,
    injection_checks,
    null_checks,
)
from belleflow.validation.fullchain import ChainInjection, ChainRun, chain_checks, run_chain
from belleflow.validation.injection import (
    InjectionToys,
    grid_points,
    injected_events,
    interior_grid_points,
    run_injection,
)
from belleflow.validation.toys import Ensemble, run_ensemble
from belleflow.validation.windows import (
    background_per_bin,
    background_variance_per_bin,
    smoothed_background_per_bin,
    window_bins,
)

__all__ = ["ValidationResult", "ValidationSettings", "validate_channel"]

#: Reports progress: (task, advance, total); total is given once per task.
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class ValidationSettings:
    """How much to run. ``0`` injections means every interior grid point."""

    toys: int = 1000
    points: int = 150
    injections: int = 0
    seeds: int = 3
    full_chain: bool = True
    z_target: float = 4.0
    seed: int = 0
    model: str | None = None
    catalogue: Path | None = None
    work: Path | None = None

    @classmethod
    def reduced(cls, **changes: Any) -> ValidationSettings:
        """The CI's reduced settings: fewer toys, points, injections and one seed."""
        return replace(cls(toys=200, points=40, injections=3, seeds=1), **changes)


@dataclass
class ValidationResult:
    """Checks and figures of one channel's validation."""

    channel: str
    model: str
    run_dir: Path
    settings: ValidationSettings
    checks: list[Check]
    figures: dict[str, Any]
    injections: list[InjectionToys] = field(default_factory=list)
    ensemble: Ensemble | None = None
    chain: list[ChainRun] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(c.passed for c in self.checks)


def _choose_model(channel: str, name: str | None) -> tuple[str, StatModel, int]:
    models = resolve_models(channel)
    if name is None:
        name = next(iter(models))
    if name not in models:
        msg = f"channel {channel!r} has no statistical model {name!r} (has {', '.join(models)})"
        raise KeyError(msg)
    return name, models[name], len(models)


def _spread(items: list[Any], n: int) -> list[Any]:
    """``n`` items evenly spread over ``items`` (all of them for n <= 0 or n >= len)."""
    if n <= 0 or n >= len(items):
        return list(items)
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, n).round()]


def _chain_injection(
    model: StatModel, table: Any, histograms: dict[str, Any], z_target: float
) -> ChainInjection:
    """Midway between two neighbouring grid masses, where the window has most background.

    Any two neighbours will do, the grid's ends too: unlike the toys' left-out
    points, the chain injects a signal the model was built with.
    """
    points = grid_points(model, table)
    low, high = model.mass_range
    candidates = [0.5 * (a.mass + b.mass) for a, b in itertools.pairwise(points)]
    candidates = [
        m
        for m in candidates
        if low <= m <= high and not any(lo <= m <= hi for lo, hi in model.vetoed)
    ]
    if not candidates:
        msg = f"{model.channel}: no two neighbouring grid masses to inject between"
        raise ValueError(msg)
    hypotheses = build_hypotheses(model, histograms, masses=candidates, ctaus=[points[0].ctau])
    h = max(hypotheses, key=lambda h: (h.summary.b, -h.mass))
    xs = injected_events(h.summary.b, z_target, h.summary.sigma_b) / h.summary.s
    return ChainInjection(model.signal_model, h.mass, points[0].ctau, xs)


def validate_channel(
    channel: str,
    run_dir: str | Path,
    settings: ValidationSettings | None = None,
    progress: Progress | None = None,
) -> ValidationResult:
    """Run the toy studies on a run's histograms and, if asked, the full-chain runs.

    Args:
        channel: Registered channel name.
        run_dir: Output folder of ``belleflow run`` holding ``CHANNEL/histograms.json``.
        settings: What to run (default: :class:`ValidationSettings`).
        progress: Progress callback ``(task, advance, total)``.
    """
    settings = settings or ValidationSettings()
    report = progress or (lambda _task, _advance, _total: None)
    name, model, n_models = _choose_model(channel, settings.model)
    subs = model.subchannels_or_default()
    if len(subs) != 1:
        msg = f"{channel}/{name}: validation supports single-sub-channel models ({len(subs)} here)"
        raise ValueError(msg)
    source = subs[0].source or subs[0].name
    run = Path(run_dir)
    model = with_run_floor(model, run)
    histograms = load_run_histograms(run, source)
    if model.observable not in histograms:
        msg = f"{run / source / 'histograms.json'}: no histogram {model.observable!r}"
        raise KeyError(msg)
    table = table_from_hist(histograms[model.observable])
    checks: list[Check] = []
    figures: dict[str, Any] = {}

    # The toys' expected background: the simulation, smoothed where it is sparse.
    truth = smoothed_background_per_bin(model, table)
    grid = _spread(interior_grid_points(model, table), settings.injections)
    report("injection toys", 0, len(grid))
    injections = []
    for i, (point, label) in enumerate(grid):
        injections.append(
            run_injection(
                model,
                table,
                point,
                label,
                n_toys=settings.toys,
                z_target=settings.z_target,
                seed=settings.seed + i,
                source=source,
                background=truth,
            )
        )
        report("injection toys", 1, None)
    checks += injection_checks(injections)
    figures["injection"] = [inj.to_dict() for inj in injections]
    if injections:
        pulls = np.concatenate([inj.pulls for inj in injections])
        figures["pulls"] = {"mean": float(pulls.mean()), "width": float(pulls.std(ddof=1))}

    # Only the evaluated points are built: a fine scan has thousands.
    chosen = [
        h
        for mass, ctau in _spread(scan_points(model, {source: histograms}), settings.points)
        for h in build_hypotheses(model, {source: histograms}, masses=[mass], ctaus=[ctau])
    ]
    report("background toys", 0, len(chosen))
    ensemble = run_ensemble(
        chosen,
        [window_bins(model, table.edges, h.mass) for h in chosen],
        truth,
        [model.resolution(h.mass) for h in chosen],
        cl=model.cl,
        n_toys=settings.toys,
        seed=settings.seed + 10_000,
        simulation=(background_per_bin(table), background_variance_per_bin(model, table)),
        progress=lambda _done: report("background toys", 1, None),
    )
    checks += coverage_checks(ensemble) + bias_checks(ensemble) + null_checks(ensemble)
    figures["ensemble"] = _ensemble_figures(ensemble)

    chain: list[ChainRun] = []
    if settings.full_chain:
        catalogue = settings.catalogue or _default_catalogue()
        work = settings.work or run / channel / "validation" / "chain"
        injection = _chain_injection(model, table, {source: histograms}, settings.z_target)
        plan: list[tuple[int, ChainInjection | None]] = [(settings.seed, None)]
        plan += [(settings.seed + k, injection) for k in range(1, settings.seeds + 1)]
        report("full chain", 0, len(plan))
        for seed, inj in plan:
            kind = "null" if inj is None else "inject"
            chain.append(
                run_chain(
                    channel,
                    name,
                    n_models,
                    catalogue=catalogue,
                    root=work / f"{kind}_seed{seed}",
                    seed=seed,
                    injection=inj,
                )
            )
            report("full chain", 1, None)
        chain_found, chain_figures = chain_checks(model, chain)
        checks += chain_found
        figures["chain"] = chain_figures
        chain_pulls = [f["pull"] for f in chain_figures if f["kind"] == "injection"]
        if len(chain_pulls) > 1:
            figures["chain_pulls"] = {
                "mean": float(np.mean(chain_pulls)),
                "width": float(np.std(chain_pulls, ddof=1)),
            }
    return ValidationResult(
        channel, name, run, settings, checks, figures, injections, ensemble, chain
    )


def _default_catalogue() -> Path:
    from belleflow.catalogue import default_catalogue_path  # noqa: PLC0415

    return default_catalogue_path()


def _ensemble_figures(ensemble: Ensemble) -> dict[str, Any]:
    methods = sorted(set(ensemble.methods))
    by_method = {}
    for method in methods:
        sel = np.array([m == method for m in ensemble.methods])
        by_method[method] = {
            "hypotheses": int(sel.sum()),
            "coverage_1sigma": float(ensemble.coverage(1)[sel].mean()),
            "coverage_2sigma": float(ensemble.coverage(2)[sel].mean()),
            "coverage_1sigma_poisson": float(ensemble.coverage_exact[sel, 0].mean()),
            "coverage_2sigma_poisson": float(ensemble.coverage_exact[sel, 1].mean()),
        }
    over_error, over_sigma, _ = bias_significance(ensemble)
    return {
        "toys": ensemble.n_toys,
        "hypotheses": int(ensemble.masses.size),
        "coverage_1sigma": float(ensemble.coverage(1).mean()),
        "coverage_2sigma": float(ensemble.coverage(2).mean()),
        "by_method": by_method,
        "max_bias_over_error": float(over_error.max()),
        "max_bias_over_sigma": float(over_sigma.max()),
        "max_local_z": float(ensemble.z.max()),
        "fraction_z_above_2": float((ensemble.z > 2).mean()),
        "fraction_z_above_2_poisson": float(ensemble.fraction_z2_exact.mean()),
        "global_z_median": float(np.median(ensemble.z_global)),
        "global_z_finite": bool(np.all(np.isfinite(ensemble.z_global))),
        "max_z_one_event": float(ensemble.z_one_event.max()),
        "windows_with_zero_background": int(np.sum(ensemble.b_model <= 0)),
        "median_background": float(np.median(ensemble.b_model)),
    }
