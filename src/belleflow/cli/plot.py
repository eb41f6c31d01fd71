"""``belleflow plot``: the figures of a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from belleflow.cli._console import console
from belleflow.cli._runs import check_runs

__all__ = ["Observables", "plot"]

#: ``--observable``, shared by ``belleflow plot`` and ``belleflow report``.
Observables = Annotated[
    list[str] | None,
    typer.Option("--observable", help="Only this histogram's spectrum (repeatable)."),
]


def plot(
    run_dir: Annotated[Path, typer.Argument(help="Output folder of `belleflow run`.")],
    channel: Annotated[
        str | None, typer.Argument(help="One channel (default: every channel in the folder).")
    ] = None,
    observable: Observables = None,
) -> None:
    """Draw spectra, 2-D planes, cutflow, efficiency, resolution and limit figures (PNG, PDF).

    Figures of the run go to DIR/CHANNEL/plots/, those of each statistical
    model beside its limits.json.
    """
    from belleflow.plotting import find_channels, load_channel_run, plot_channel  # noqa: PLC0415

    out = console()
    check_runs(run_dir, [channel] if channel else [])
    try:
        names = [channel] if channel else find_channels(run_dir)
        if not names:
            msg = f"{run_dir}: no channel outputs (no CHANNEL/report.json)"
            raise FileNotFoundError(msg)
        for name in names:
            figures = plot_channel(load_channel_run(run_dir, name), observable)
            pngs = figures.spectra + figures.planes + figures.efficiency
            pngs += [p for files in figures.limits.values() for p in files]
            out.print(f"{name}: {len(pngs)} figures (PNG and PDF) in {run_dir / name}")
            for problem in figures.problems:
                out.print(f"[red]{problem}[/red]")
    except (FileNotFoundError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
