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
            "--out",
            "-o",
            help="Output record (.json) or folder (default belleflow-output/models/).",
        ),
    ] = None,
    install: Annotated[
        bool,
        typer.Option(
            "--install", help="Replace the classifier shipped with the channel (its models/)."
        ),
    ] = False,
    scale: Annotated[
        float, typer.Option("--scale", min=1e-4, help="Multiply the training event counts.")
    ] = 1.0,
    progress: Annotated[
        bool, typer.Option(help="Show a progress bar (samples, fits, export; on a terminal).")
    ] = True,
) -> None:
    """Train CHANNEL's candidate classifier; write it as ONNX with a JSON record."""
    from belleflow.cli._console import console as get_console  # noqa: PLC0415 - fast --help
    from belleflow.progress import progress_bar  # noqa: PLC0415

    console = get_console()
    try:
        from belleflow.training.trainer import train_channel  # noqa: PLC0415

        with progress_bar(progress) as bar:
            task = bar.add_task(f"train {channel}", total=None, unit="steps")

            def step(line: str, done: int, total: int) -> None:
                # The bar names the step under way (a sample, a fit); the log keeps every line.
                description = f"train {channel}: {line}"
                bar.update(task, description=description, completed=done, total=total, refresh=True)
                console.print(f"  {line}")

            path, document = train_channel(
                channel,
                catalogue=catalogue,
                out=out,
                install=install,
                scale=scale,
                progress=step,
            )
    except ModuleNotFoundError as err:
        console.print(
            f"[red]error:[/red] `belleflow train` needs {err.name}: "
            "install the training packages with `pip install -e . --group train`"
        )
        raise typer.Exit(code=1) from err
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
    console.print(f"wrote {path} and {document['model']['file']}")
