"""``belleflow report``: one HTML page for a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from belleflow.cli._console import console
from belleflow.cli._runs import check_runs
from belleflow.cli.plot import Observables

__all__ = ["report"]


def report(
    run_dir: Annotated[Path, typer.Argument(help="Output folder of `belleflow run`.")],
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="Only these channels (repeatable).")
    ] = None,
    observable: Observables = None,
) -> None:
    """Write DIR/report.html: spectra, cutflows, efficiencies, limits, validation, provenance."""
    from belleflow.report import write_report  # noqa: PLC0415 - keep --help fast

    out = console()
    check_runs(run_dir, channel or [])
    try:
        path = write_report(run_dir, channel, observables=observable, echo=out.print)
    except (FileNotFoundError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    out.print(f"report: {path.resolve()}")
