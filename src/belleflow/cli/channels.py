"""``belleflow channels``: list the registered channels."""

from __future__ import annotations

import typer
from rich.table import Table

from belleflow.channels import ENTRY_POINT_GROUP, available_channels
from belleflow.cli._console import console as _console

__all__ = ["list_channels"]


def list_channels() -> None:
    """List the dark-sector channels registered in the belleflow.channels entry points."""
    infos = available_channels()
    console = _console()
    if not infos:
        console.print(f"No channels registered in the {ENTRY_POINT_GROUP!r} entry-point group.")
        raise typer.Exit
    table = Table(title="belleflow channels")
    table.add_column("channel", style="bold")
    table.add_column("description")
    for info in infos:
        table.add_row(info.name, info.description)
    console.print(table)
