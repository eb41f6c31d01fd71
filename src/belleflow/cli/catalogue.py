"""``belleflow catalogue``: validate and show dataset catalogues.

Commands:
    ``validate [PATH] [--no-files] [--data-root DIR]``: schema and semantic
    checks, and (unless ``--no-files``) that every sample's files exist; exit
    code 1 with the error message on failure.

    ``show [PATH] [--json] [--data-root DIR]``: a table of samples (signals one
    row per grid point) and the data luminosity per experiment, full and at the
    catalogue's scale; ``--json`` prints the same as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import JustifyMethod
from rich.table import Table

from belleflow.catalogue import (
    Catalogue,
    CatalogueError,
    SampleView,
    default_catalogue_path,
    load_catalogue,
)
from belleflow.cli._console import console as _console

__all__ = ["app", "show", "summary", "validate"]

app = typer.Typer(
    help="Inspect and validate dataset catalogues.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

PathArgument = Annotated[
    Path | None,
    typer.Argument(
        help="Catalogue YAML file (default: the shipped demo catalogue).",
        dir_okay=False,
        show_default=False,
    ),
]
DataRootOption = Annotated[
    Path | None,
    typer.Option(
        "--data-root",
        help="Override the catalogue's data_root (and $BELLEFLOW_DATA_ROOT).",
        file_okay=False,
    ),
]


def _load(path: Path | None, data_root: Path | None) -> Catalogue:
    try:
        return load_catalogue(path or default_catalogue_path(), data_root=data_root)
    except CatalogueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None


def _files_found(catalogue: Catalogue, view: SampleView) -> int:
    return len(catalogue.resolve_files(view, check=False))


def summary(catalogue: Catalogue, *, files: bool = True) -> dict[str, Any]:
    """Machine-readable description of a catalogue (what ``show --json`` prints).

    Args:
        catalogue: A loaded catalogue.
        files: Count the files found for each sample (``files_found``).

    Returns:
        A JSON-serialisable dictionary: catalogue name, source, data_root,
        scale, samples (one per data/simulation sample and signal point),
        luminosity per experiment and in total, and event totals.
    """
    samples = []
    for view in catalogue.iter_samples():
        entry = view.to_dict()
        entry["files_found"] = _files_found(catalogue, view) if files else None
        samples.append(entry)
    total = catalogue.luminosity() if catalogue.data else None
    return {
        "name": catalogue.name,
        "description": catalogue.description,
        "source": str(catalogue.source) if catalogue.source else None,
        "data_root": str(catalogue.data_root),
        "scale": catalogue.scale,
        "samples": samples,
        "luminosity": {
            experiment: {"full": lumi.full, "effective": lumi.effective}
            for experiment, lumi in catalogue.luminosity_by_experiment().items()
        },
        "luminosity_total": {"full": total.full, "effective": total.effective} if total else None,
        "events": {
            "simulation": catalogue.total_events("simulation"),
            "signal": catalogue.total_events("signal"),
        },
        "skims": {
            skim.name: [v.name for v in catalogue.skim(skim.name)] for skim in catalogue.skims
        },
    }


def _lumi(value: float) -> str:
    """fb^-1 with a sensible number of digits (pb^-1 below 1 fb^-1)."""
    if value >= 1.0:
        return f"{value:,.1f} fb⁻¹"
    return f"{value * 1000.0:,.3g} pb⁻¹"


def _events(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


@app.command()
def validate(
    path: PathArgument = None,
    no_files: Annotated[
        bool, typer.Option("--no-files", help="Skip the check that every sample's files exist.")
    ] = False,
    data_root: DataRootOption = None,
) -> None:
    """Check a catalogue: schema, semantics and (unless --no-files) that its files exist."""
    catalogue = _load(path, data_root)
    views = catalogue.samples
    counts = {kind: sum(v.kind == kind for v in views) for kind in ("data", "simulation", "signal")}
    console = _console()
    console.print(
        f"[bold]{catalogue.name}[/bold] ({catalogue.source}): schema and semantics OK: "
        f"{counts['data']} data samples, {counts['simulation']} simulation samples, "
        f"{len(catalogue.signals)} signals ({counts['signal']} points), "
        f"{len(catalogue.skims)} skims; scale {catalogue.scale:g}",
        highlight=False,
    )
    if no_files:
        console.print("files not checked (--no-files)", highlight=False)
        return
    missing = catalogue.missing_files()
    if missing:
        typer.echo(
            f"error: {catalogue.source}: {len(missing)} of {len(views)} samples have "
            f"missing files (data_root {catalogue.data_root}):",
            err=True,
        )
        for message in missing[:20]:
            typer.echo(f"  {message.removeprefix(f'{catalogue.source}: ')}", err=True)
        if len(missing) > 20:
            typer.echo(f"  ... and {len(missing) - 20} more", err=True)
        raise typer.Exit(1)
    n_files = sum(_files_found(catalogue, v) for v in views)
    console.print(
        f"files OK: {n_files} files for {len(views)} samples under {catalogue.data_root}",
        highlight=False,
    )


@app.command()
def show(
    path: PathArgument = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    data_root: DataRootOption = None,
) -> None:
    """Show the samples of a catalogue and its data luminosity per experiment."""
    catalogue = _load(path, data_root)
    info = summary(catalogue)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    console = _console()
    scale = catalogue.scale
    table = Table(
        title=f"{catalogue.name}: samples (scale {scale:g}, data_root {catalogue.data_root})"
    )
    columns: list[tuple[str, JustifyMethod]] = [
        ("name", "left"),
        ("kind", "left"),
        ("experiment", "left"),
        ("process", "left"),
        ("ecms [GeV]", "right"),
        ("lumi (full)", "right"),
        ("lumi (effective)", "right"),
        ("events", "right"),
        ("weight", "right"),
        ("files found", "right"),
    ]
    for column, justify in columns:
        table.add_column(column, justify=justify, no_wrap=column == "name")
    for entry in info["samples"]:
        table.add_row(
            entry["name"],
            entry["kind"],
            entry["experiment"],
            entry["process"],
            f"{entry['ecms']:.4g}",
            _lumi(entry["luminosity"]),
            _lumi(entry["effective_luminosity"]),
            _events(entry["effective_events"]),
            f"{entry['weight']:.4g}",
            str(entry["files_found"]),
        )
    console.print(table)

    lumi = Table(title=f"data luminosity (catalogue scale {scale:g})")
    lumi.add_column("experiment")
    lumi.add_column("full", justify="right")
    lumi.add_column(f"at scale {scale:g}", justify="right")
    for experiment, values in info["luminosity"].items():
        lumi.add_row(experiment, _lumi(values["full"]), _lumi(values["effective"]))
    if info["luminosity_total"]:
        total = info["luminosity_total"]
        lumi.add_row("total", _lumi(total["full"]), _lumi(total["effective"]), style="bold")
    console.print(lumi)
    console.print(
        f"generated events at this scale: {info['events']['simulation']:,} simulation, "
        f"{info['events']['signal']:,} signal",
        highlight=False,
    )
