"""``belleflow validate CHANNEL``: toys and full-chain injection and null runs of a channel.

Usage::

    belleflow validate CHANNEL [--in RUNDIR] [--model NAME] [--toys N] [--points N]
        [--injections N] [--seeds N] [--full-chain/--no-full-chain] [--reduced]
        [--catalogue FILE] [--out DIR] [--seed N]

Prints a table (check, figure, expectation, pass/fail), writes
``DIR/CHANNEL/validation/{validation.json,validation.md,*.png,*.pdf}`` and
exits 1 when a check fails (2 on bad input).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from belleflow.cli._console import console as _console
from belleflow.cli._runs import check_runs

__all__ = ["validate"]

EXIT_FAILED = 1
EXIT_USAGE = 2


def validate(
    channel: Annotated[str, typer.Argument(help="Registered channel name.", show_default=False)],
    run_dir: Annotated[
        Path, typer.Option("--in", help="Output folder of `belleflow run` (or `belleflow demo`).")
    ] = Path("belleflow-demo"),
    model: Annotated[
        str | None, typer.Option(help="Statistical model of the channel (default: its first).")
    ] = None,
    toys: Annotated[int | None, typer.Option(help="Toys per study (default 1000).", min=2)] = None,
    points: Annotated[
        int | None, typer.Option(help="Scan points in the background toys (default 150).", min=1)
    ] = None,
    injections: Annotated[
        int | None,
        typer.Option(help="Left-out grid points injected (default: all interior ones).", min=0),
    ] = None,
    seeds: Annotated[
        int | None, typer.Option(help="Full-chain injection runs (default 3).", min=1)
    ] = None,
    full_chain: Annotated[
        bool,
        typer.Option(help="Also generate, run and fit pseudo-data with and without a signal."),
    ] = True,
    reduced: Annotated[
        bool, typer.Option(help="CI settings: 200 toys, 40 points, 3 injections, 1 seed.")
    ] = False,
    catalogue: Annotated[
        Path | None,
        typer.Option(
            help="Catalogue of the full chain (default: datasets/demo.yaml).", dir_okay=False
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder DIR (default: --in).", file_okay=False)
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the toys and of the productions.")] = 0,
    z_target: Annotated[
        float, typer.Option(help="Median significance of the injected signals.", min=1.0)
    ] = 4.0,
    plots: Annotated[bool, typer.Option(help="Draw the plots.")] = True,
    progress: Annotated[
        bool, typer.Option(help="Show a progress bar per study (on a terminal).")
    ] = True,
) -> None:
    """Validate a channel's limits: pulls, coverage, bias, null scan, full-chain injection."""
    from belleflow.progress import counter, progress_bar  # noqa: PLC0415 - fast --help
    from belleflow.validation import (  # noqa: PLC0415 - fast --help
        ValidationSettings,
        validate_channel,
        write_outputs,
    )

    console = _console()
    check_runs(run_dir, [channel])
    base = ValidationSettings.reduced() if reduced else ValidationSettings()
    changes = {
        "toys": toys,
        "points": points,
        "injections": injections,
        "seeds": seeds,
    }
    settings = ValidationSettings(
        **{
            **vars(base),
            **{k: v for k, v in changes.items() if v is not None},
            "full_chain": full_chain,
            "seed": seed,
            "z_target": z_target,
            "model": model,
            "catalogue": catalogue,
        }
    )
    folder = (out or run_dir) / channel / "validation"
    if settings.full_chain:
        settings = ValidationSettings(**{**vars(settings), "work": folder / "chain"})
    with progress_bar(progress) as bar:
        done: dict[str, tuple[int, int]] = {}
        count = counter(bar, "steps")

        def report(task: str, advance: int, total: int | None) -> None:
            steps, known = done.get(task, (0, 0))
            done[task] = (steps + advance, total if total is not None else known)
            count(task, *done[task])

        try:
            result = validate_channel(channel, run_dir, settings, report)
        except (FileNotFoundError, KeyError, ValueError) as err:
            console.print(f"[red]error: {err}[/red]", highlight=False)
            raise typer.Exit(EXIT_USAGE) from None
        except RuntimeError as err:
            console.print(f"[red]error: {err}[/red]", highlight=False)
            raise typer.Exit(EXIT_FAILED) from None
    table = Table(title=f"belleflow validate {channel} ({result.model})")
    for column in ("study", "check", "figure", "expectation", "result"):
        table.add_column(column)
    for c in result.checks:
        verdict = "[green]pass[/green]" if c.passed else "[red]FAIL[/red]"
        table.add_row(c.study, c.name, c.figure, c.expectation, verdict)
    console.print(table)
    files = write_outputs(result, folder, plots=plots)
    console.print(f"wrote {', '.join(sorted(str(p) for p in files.values()))}", highlight=False)
    if not result.passed:
        failed = sum(not c.passed for c in result.checks)
        console.print(f"[red]{failed} check(s) failed[/red]")
        raise typer.Exit(EXIT_FAILED)
