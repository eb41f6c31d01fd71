"""Outputs of a validation: ``validation.json``, ``validation.md`` and the plots."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from belleflow.validation.plots import coverage_plot, pull_plot, z_scan_plot
from belleflow.validation.suite import ValidationResult

__all__ = ["to_dict", "to_markdown", "write_outputs"]


def to_dict(result: ValidationResult) -> dict[str, Any]:
    """The content of validation.json."""
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(result.settings).items()}
    return {
        "channel": result.channel,
        "model": result.model,
        "run_dir": str(result.run_dir),
        "passed": result.passed,
        "settings": settings,
        "checks": [c.to_dict() for c in result.checks],
        "figures": result.figures,
        "chain": [run.to_dict() for run in result.chain],
    }


def to_markdown(result: ValidationResult) -> str:
    """A short Markdown report: the table of checks."""
    verdict = "PASSED" if result.passed else "FAILED"
    lines = [
        f"# Validation of `{result.channel}` ({result.model}): {verdict}",
        "",
        (
            f"Run: `{result.run_dir}`; toys: {result.settings.toys}; "
            f"full chain: {'yes' if result.chain else 'no'}. Details: `validation.json`."
        ),
        "",
        "| study | check | figure | expectation | result |",
        "|---|---|---|---|---|",
    ]
    for c in result.checks:
        outcome = "pass" if c.passed else "**FAIL**"
        lines.append(f"| {c.study} | {c.name} | {c.figure} | {c.expectation} | {outcome} |")
    return "\n".join(lines) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    msg = f"cannot write {type(value).__name__} to JSON"
    raise TypeError(msg)


def write_outputs(result: ValidationResult, folder: Path, plots: bool = True) -> dict[str, Path]:
    """Write validation.json, validation.md and the plots into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"json": folder / "validation.json", "md": folder / "validation.md"}
    payload = json.dumps(to_dict(result), indent=2, default=_json_default)
    files["json"].write_text(payload + "\n")
    files["md"].write_text(to_markdown(result))
    if not plots:
        return files
    title = f"{result.channel}: {result.model}"
    if result.injections:
        pulls = np.concatenate([inj.pulls for inj in result.injections])
        files["pulls"] = pull_plot(folder / "pulls", pulls, title)[0]
    ensemble = result.ensemble
    if ensemble is not None:
        groups = {
            method: (
                float(ensemble.coverage(1)[[m == method for m in ensemble.methods]].mean()),
                float(ensemble.coverage(2)[[m == method for m in ensemble.methods]].mean()),
            )
            for method in sorted(set(ensemble.methods))
        }
        groups["all"] = (float(ensemble.coverage(1).mean()), float(ensemble.coverage(2).mean()))
        files["coverage"] = coverage_plot(folder / "coverage", groups, title)[0]
    curves: list[tuple[str, Any, Any]] = []
    injected = []
    for run in result.chain:
        points = run.limits["points"]
        kind = "null" if run.injection is None else "injected"
        curves.append(
            (
                f"{kind}, seed {run.seed}",
                [p["mass"] for p in points],
                [p["z_local"] for p in points],
            )
        )
        if run.injection is not None:
            injected.append(run.injection.mass)
    if not curves and ensemble is not None:
        curves = [
            ("null toys: median", ensemble.masses, np.median(ensemble.z, axis=0)),
            ("null toys: largest", ensemble.masses, ensemble.z.max(axis=0)),
        ]
        injected = [inj.mass for inj in result.injections]
    if curves:
        files["z_scan"] = z_scan_plot(folder / "z_scan", curves, sorted(set(injected)), title)[0]
    return files
