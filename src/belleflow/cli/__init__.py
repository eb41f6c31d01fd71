"""The ``belleflow`` command line.

Each command group lives in its own module of this package; this module
only assembles them.
"""

from __future__ import annotations

import typer

from belleflow import __version__
from belleflow.cli import (
    catalogue,
    channels,
    demo,
    generate,
    import_basf2,
    limits,
    plot,
    report,
    run,
    train,
    validate,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="belleflow",
    help="Dark-sector searches of Belle and Belle II on Dask.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(catalogue.app, name="catalogue", help="Inspect and validate dataset catalogues.")
app.command("channels")(channels.list_channels)
app.command("demo")(demo.demo)
app.command("generate")(generate.generate)
app.command("import-basf2")(import_basf2.import_basf2)
app.command("limits")(limits.limits)
app.command("plot")(plot.plot)
app.command("report")(report.report)
app.command("run")(run.run)
app.command("train")(train.train)
app.command("validate")(validate.validate)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"belleflow {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Dark-sector searches of Belle and Belle II on Dask."""


def main() -> None:
    """Entry point of the ``belleflow`` script."""
    app()
