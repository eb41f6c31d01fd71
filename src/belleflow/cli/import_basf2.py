"""``belleflow import-basf2``: convert basf2 ntuples into belleflow ntuples.

Usage::

    belleflow import-basf2 INPUT... --out DIR [--kind data|simulation|signal]
        [--experiment "Belle II"] [--process P] [--sample NAME] [--ecms 10.58]
        [--luminosity FB] [--list TREE=COLLECTION]... [--ignore TREE]...

Each INPUT (a file of ``VariablesToEventBasedTree`` and/or ``VariablesToNtuple``
trees, one per particle list) becomes ``DIR/<stem>.root``. The command prints
what filled each collection, the basf2 variables no belleflow branch holds,
and the catalogue entry for the files. Exit code 1 if a file fails (the
others are still converted), 2 for a usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from belleflow.basf2 import Basf2ImportError, ImportOptions, ImportReport, import_file
from belleflow.cli._console import console as _console
from belleflow.ntuple import COLLECTIONS

__all__ = ["catalogue_entry", "import_basf2"]

_KINDS = ("data", "simulation", "signal")
_EXPERIMENTS = ("Belle", "Belle II")
_TODO = "FILL IN"


def _parse_lists(values: list[str]) -> dict[str, str]:
    lists: dict[str, str] = {}
    for value in values:
        tree, sep, collection = value.partition("=")
        if not sep or not tree or collection not in COLLECTIONS:
            msg = f"--list {value!r}: use TREE=COLLECTION with COLLECTION one of {', '.join(COLLECTIONS)}"
            raise typer.BadParameter(msg)
        lists[tree] = collection
    return lists


def catalogue_entry(reports: list[ImportReport], out: Path) -> dict[str, Any]:
    """The catalogue YAML section (``data``, ``simulation`` or ``signals``) for imported files.

    Values the files cannot tell (luminosity without ``--luminosity``, what
    a simulation stands for, a signal's grid) are ``FILL IN`` placeholders,
    which the catalogue's validation rejects until they are replaced.
    """
    first = reports[0].metadata
    kind = str(first.generator.get("kind", first.kind))
    luminosity = first.generator.get("luminosity_fb")
    events = sum(r.metadata.n_events for r in reports)
    files = [str(out / "*.root")]
    common = {"name": first.sample, "files": files}
    if kind == "data":
        entry: dict[str, Any] = {
            **common,
            "experiment": first.experiment,
            "machine": first.machine,
            "ecms": first.ecms,
            "luminosity": luminosity if luminosity is not None else f"{_TODO}: fb^-1",
            "luminosity_source": f"{_TODO}: where the luminosity comes from",
        }
        return {"data": [entry]}
    stands_for = f"{_TODO}: data sample(s) of {first.experiment} at {first.ecms:g} GeV"
    if kind == "simulation":
        entry = {
            **common,
            "process": first.process,
            "stands_for": [stands_for],
            "events": events,
            "description": f"imported from basf2 ({events} events in the files; if a skim "
            "removed events, give the number generated)",
        }
        return {"simulation": [entry]}
    entry = {
        **common,
        "channel": f"{_TODO}: channel",
        "model": first.process,
        "stands_for": [stands_for],
        "masses": [f"{_TODO}: GeV"],
        "events_per_point": events,
    }
    return {"signals": [entry]}


def _print_report(report: ImportReport) -> None:
    console = _console()
    console.print(
        f"[bold]{report.output}[/bold]: {report.metadata.n_events:,} events from {report.source}",
        highlight=False,
    )
    for collection, tree in report.collections.items():
        source = f"tree {tree!r}" if tree else "no list: written empty"
        console.print(f"  {collection}: {source}", highlight=False)
    if report.event_trees:
        console.print(f"  event-level trees: {', '.join(report.event_trees)}", highlight=False)
    console.print(f"  beam: {report.beam}", highlight=False)
    for tree, variables in report.not_imported.items():
        console.print(
            f"  not imported from {tree!r} (no belleflow branch): {', '.join(variables)}",
            highlight=False,
        )


def import_basf2(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="basf2 ntuple files.", metavar="INPUT...", dir_okay=False, show_default=False
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder.", file_okay=False)],
    kind: Annotated[
        str, typer.Option(help="What the files hold: data, simulation or signal.")
    ] = "data",
    experiment: Annotated[str, typer.Option(help="Belle or 'Belle II'.")] = "Belle II",
    process: Annotated[
        str | None,
        typer.Option(help="Process (simulation) or signal model (signal); data: 'data'."),
    ] = None,
    sample: Annotated[
        str | None, typer.Option(help="Catalogue sample name (default: the --out folder's name).")
    ] = None,
    ecms: Annotated[
        float, typer.Option(min=1.0, help="Nominal centre-of-mass energy in GeV.")
    ] = 10.58,
    luminosity: Annotated[
        float | None,
        typer.Option(min=0.0, help="Luminosity of the data files in fb^-1 (catalogue entry)."),
    ] = None,
    lists: Annotated[
        list[str] | None,
        typer.Option("--list", help="TREE=COLLECTION (Track, Photon, V0, MCParticle); repeat."),
    ] = None,
    ignore: Annotated[
        list[str] | None, typer.Option("--ignore", help="A tree to leave out; repeat.")
    ] = None,
) -> None:
    """Convert basf2 ntuples (VariablesToEventBasedTree / VariablesToNtuple) to belleflow's format."""
    if kind not in _KINDS:
        msg = f"--kind {kind!r}: use one of {', '.join(_KINDS)}"
        raise typer.BadParameter(msg)
    if experiment not in _EXPERIMENTS:
        msg = f"--experiment {experiment!r}: use 'Belle' or 'Belle II'"
        raise typer.BadParameter(msg)
    stems = [p.stem for p in inputs]
    repeated = sorted({s for s in stems if stems.count(s) > 1})
    if repeated:
        msg = f"two inputs would both become {out / (repeated[0] + '.root')}: rename one"
        raise typer.BadParameter(msg)
    options = ImportOptions(
        kind=kind,  # type: ignore[arg-type]  # checked against _KINDS above
        experiment=experiment,  # type: ignore[arg-type]  # checked against _EXPERIMENTS
        process=process,
        sample=sample or out.resolve().name,
        luminosity=luminosity,
        ecms=ecms,
        lists=_parse_lists(lists or []),
        ignore=frozenset(ignore or []),
    )
    reports: list[ImportReport] = []
    failed = 0
    for path in inputs:
        try:
            report = import_file(path, out / f"{path.stem}.root", options)
        except Basf2ImportError as err:
            typer.echo(f"error: {err}", err=True)
            failed += 1
            continue
        reports.append(report)
        _print_report(report)
    if reports:
        typer.echo("\ncatalogue entry (add to the catalogue's YAML; replace FILL IN):")
        typer.echo(yaml.safe_dump(catalogue_entry(reports, out.resolve()), sort_keys=False))
    if failed:
        typer.echo(f"error: {failed} of {len(inputs)} file(s) not imported", err=True)
        raise typer.Exit(1)
