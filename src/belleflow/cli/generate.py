"""``belleflow generate``: make the synthetic production of a catalogue.

Usage::

    belleflow generate CATALOGUE [--samples GLOB] [--scale X] [--seed N]
        [--workers N] [--data-root DIR] [--inject MODEL:MASS[:CTAU]:AMOUNT]
        [--chunk-size N] [--no-progress]

Writes every file the catalogue expects (simulation, signal points,
pseudo-data), skipping files that are complete and were made with the same
settings, then prints a table per sample and where the files went.
``--inject`` adds a signal to the pseudo-data: AMOUNT is a number of events
per data sample, or a cross section with the unit ``fb`` (``0.5fb``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from belleflow.catalogue import CatalogueError
from belleflow.cli._console import console as _console
from belleflow.generation.production import ProductionError, ProductionReport, produce
from belleflow.generation.pseudodata import InjectedSignal

__all__ = ["generate", "print_report"]


def _size(n_bytes: int) -> str:
    value = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover - unreachable


def print_report(report: ProductionReport) -> None:
    """Print the per-sample table and the totals of a production."""
    console = _console()
    table = Table(title="belleflow generate")
    for name, justify in (
        ("sample", "left"),
        ("kind", "left"),
        ("written", "right"),
        ("skipped", "right"),
        ("events", "right"),
        ("time [s]", "right"),
        ("rate [ev/s]", "right"),
        ("size", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in report.by_sample():
        rate = row["events"] / row["seconds"] if row["written"] and row["seconds"] > 0 else 0.0
        table.add_row(
            row["sample"],
            row["kind"],
            str(row["written"]),
            str(row["skipped"]),
            f"{row['events']:,}",
            f"{row['seconds']:.1f}",
            f"{rate:,.0f}" if rate else "-",
            _size(row["size"]),
        )
    console.print(table)
    console.print(
        f"{len(report.written)} file(s) written, {len(report.skipped)} skipped; "
        f"{report.events_written:,} events generated in {report.seconds:.1f} s "
        f"({report.rate:,.0f} events/s with {report.workers} worker(s)); "
        f"{_size(report.size)} on disk under {report.data_root}",
        highlight=False,
    )
    for sample, processes in report.missing_generators.items():
        console.print(
            f"note: pseudo-data {sample!r} lacks processes without a generator: "
            f"{', '.join(processes)}",
            highlight=False,
        )


def generate(
    catalogue: Annotated[
        Path, typer.Argument(help="Catalogue YAML file.", dir_okay=False, show_default=False)
    ],
    samples: Annotated[
        str | None,
        typer.Option("--samples", help="Only samples whose name matches this glob."),
    ] = None,
    scale: Annotated[
        float | None,
        typer.Option("--scale", help="Override the catalogue's scale (fraction of luminosity)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Production seed.")] = 0,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Worker processes (default: number of cores).", min=1),
    ] = None,
    data_root: Annotated[
        Path | None,
        typer.Option(
            "--data-root", help="Write under this folder (overrides data_root).", file_okay=False
        ),
    ] = None,
    inject: Annotated[
        str | None,
        typer.Option(
            "--inject",
            help="Inject a signal into pseudo-data: MODEL:MASS[:CTAU]:NEVENTS or MODEL:MASS[:CTAU]:XSECfb.",
        ),
    ] = None,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", help="Events generated at once.", min=1)
    ] = 100_000,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show progress bars.")
    ] = True,
) -> None:
    """Generate the synthetic production of a catalogue (simulation, signals, pseudo-data)."""
    try:
        injected = InjectedSignal.parse(inject) if inject else None
        report = produce(
            catalogue,
            samples=samples,
            scale=scale,
            seed=seed,
            workers=workers,
            progress=progress,
            data_root=data_root,
            inject=injected,
            chunk_size=chunk_size,
        )
    except (CatalogueError, ProductionError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    print_report(report)
