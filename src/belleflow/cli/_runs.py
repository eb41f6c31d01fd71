"""Checks of a run folder and of the channel names a command is given.

``belleflow limits``, ``plot``, ``report`` and ``validate`` read
``DIR/CHANNEL/report.json``; a typo'd channel or folder gets a one-line
error saying which of the two is wrong, not a missing-file message.

Examples:
    >>> import tempfile
    >>> from pathlib import Path
    >>> run = Path(tempfile.mkdtemp())
    >>> (run / "four_muon").mkdir()
    >>> _ = (run / "four_muon" / "report.json").write_text("{}")
    >>> channel_problem(run, "four_muon")
    ''
    >>> channel_problem(run, "fuor_muon")
    "unknown channel 'fuor_muon' (did you mean four_muon?)"
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

import typer

from belleflow.channels import ENTRY_POINT_GROUP

__all__ = ["channel_problem", "check_runs", "folder_problem", "runs_in"]

EXIT_USAGE = 2


def runs_in(run_dir: Path) -> list[str]:
    """The channels with a run in ``run_dir`` (a ``CHANNEL/report.json``), sorted."""
    return sorted(p.parent.name for p in run_dir.glob("*/report.json"))


def folder_problem(run_dir: Path) -> str:
    """Why ``run_dir`` is not a run folder ("" if it is one)."""
    if not run_dir.exists():
        return f"no folder {run_dir}"
    if not run_dir.is_dir():
        return f"{run_dir} is a file, not the output folder of `belleflow run`"
    return ""


def channel_problem(run_dir: Path, name: str) -> str:
    """Why ``name`` has no run in ``run_dir`` ("" if it has one).

    A name that is neither registered nor in the folder is a typo (the
    closest registered or present names are suggested); a registered one is
    missing from the folder (the channels found there are listed).
    """
    found = runs_in(run_dir)
    if name in found:
        return ""
    registered = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    if name not in registered:
        close = difflib.get_close_matches(name, sorted({*registered, *found}), n=3)
        hint = (
            f"did you mean {' or '.join(close)}?"
            if close
            else f"registered: {', '.join(registered)}; runs in {run_dir}: {', '.join(found) or 'none'}"
        )
        return f"unknown channel {name!r} ({hint})"
    return f"no run of {name} in {run_dir} (found: {', '.join(found) or 'none'})"


def check_runs(run_dir: Path, names: Sequence[str]) -> None:
    """Exit with a one-line error (code 2) unless every channel of ``names`` has a run in ``run_dir``."""
    problem = folder_problem(run_dir) or next(
        (p for p in (channel_problem(run_dir, n) for n in names) if p), ""
    )
    if problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(EXIT_USAGE)
