"""``belleflow train CHANNEL``: train a channel's classifier (see :mod:`belleflow.training`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["train"]


def train(
    channel: Annotated[str, typer.Argument(help="Registered channel name, e.g. four_muon.")],
    catalogue: Annotated[
        Path | None,
        typer.Option("--catalogue", "-c", help="Catalogue YAML (default datasets/belleflow.yaml)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Output JSON file or folder (default the channel's models/)."
        ),
    ] = None,
    scale: Annotated[
        float, typer.Option("--scale", min=1e-4, help="Multiply the training event counts.")
    ] = 1.0,
) -> None:
    """Train CHANNEL's candidate classifier and store it as portable JSON (no pickle)."""
    from belleflow.cli._console import console as get_console  # noqa: PLC0415 - fast --help
    from belleflow.training.trainer import train_channel  # noqa: PLC0415

    console = get_console()
    try:
        path, document = train_channel(channel, catalogue=catalogue, out=out, scale=scale)
    except (KeyError, ValueError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(code=1) from err
    training = document["training"]
    aucs = ", ".join(f"{k} {v:.4f}" for k, v in training["roc_auc"].items())
    wp = document["working_point"]
    console.print(f"ROC AUC (held out): {aucs}; kept {training['chosen']}")
    console.print(
        f"working point: score >= {document['threshold']:.4f}, signal efficiency "
        f"{wp['signal_efficiency']:.3f}, background rejection {wp['background_rejection']:.4f}"
    )
    console.print(f"wrote {path}")
