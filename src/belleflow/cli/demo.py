"""``belleflow demo``: the main job on the embedded default catalogue."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from belleflow.cli._console import console

__all__ = ["demo"]


def _relative(path: Path, root: Path) -> str:
    """``four_muon/zprime_lmu_ltau/`` for a folder inside the output folder."""
    try:
        return f"{path.resolve().relative_to(root.resolve())}/"
    except ValueError:
        return str(path)


def _fmt(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else "-"


def demo(
    out: Annotated[Path, typer.Option(help="Output folder of the run and the limits.")] = Path(
        "belleflow-demo"
    ),
    catalogue: Annotated[
        Path | None, typer.Option(help="Catalogue (default: the embedded datasets/demo.yaml).")
    ] = None,
    data_root: Annotated[
        Path | None,
        typer.Option(help="Where the ntuples are generated (default: the catalogue's data_root)."),
    ] = None,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", help="Only these channels (repeatable).")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Dask workers (default: cores).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic production.")] = 0,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Generate the demo ntuples if missing, run every channel, compute limits, summarise."""
    from belleflow.demo import run_demo  # noqa: PLC0415 - keep --help fast

    out_console = console()
    result = run_demo(
        catalogue=catalogue,
        data_root=data_root,
        out=out,
        channels=channel,
        workers=workers,
        seed=seed,
        progress=progress,
        echo=out_console.print,
    )
    table = Table(title="belleflow demo: limits per channel and signal model")
    for column in (
        "channel/ (model folder)",
        "signal model",
        "mass range [GeV]",
        "limit on",
        "CL",
        "expected best / worst",
        "observed best / worst",
        "max local Z (at GeV)",
    ):
        # Fold, never truncate: six dark_higgsstrahlung_ap... names differ only at the end.
        table.add_column(column, overflow="fold")
    for row in result.rows:
        table.add_row(
            # Where its limits.json is: the channel's folder, or its model's inside it.
            _relative(row.directory, out),
            row.signal_model,
            f"{row.mass_range[0]:.3g}-{row.mass_range[1]:.3g}",
            row.units,
            f"{row.cl:.0%}",
            f"{_fmt(row.expected_best)} / {_fmt(row.expected_worst)}",
            "blinded" if row.blinded else f"{_fmt(row.observed_best)} / {_fmt(row.observed_worst)}",
            "blinded" if row.blinded else f"{row.max_local_z:.2f} ({row.max_local_z_mass:.3g})",
        )
    out_console.print(table)
    timings = ", ".join(f"{k} {v:.0f} s" for k, v in result.timings.items())
    out_console.print(f"times: {timings}")
    out_console.print(f"synthetic ntuples (kept for the next run): {result.data_root}")
    out_console.print(
        f"histograms and run reports: {out.resolve()}/<channel>/; limits.json/csv and "
        "Brazil plots: in the folder of each row above; figures: <channel>/plots/"
    )
    for name, problem in result.failures.items():
        out_console.print(f"[red]{name}: no limits ({problem})[/red]")
    if not result.complete:
        out_console.print("[red]the run is incomplete: see the report.json files[/red]")
    if result.report is not None:
        out_console.print(f"report: {result.report.resolve()}")
    if result.failures or not result.complete:
        raise typer.Exit(1)
