"""``belleflow run``: run channels over a catalogue and write histograms and reports."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["run"]

#: Exit codes: 0 complete (or incomplete by choice), 1 failed or lost events,
#: 2 usage, 130 interrupted (SIGINT; the report says so, --resume continues).
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def run(
    channels: list[str] = typer.Argument(  # noqa: B008 - typer's declaration style
        None,
        help="Channels: registered names, module:attr or file.py:attr.",
        show_default=False,
    ),
    all_channels: bool = typer.Option(False, "--all", help="Every registered channel."),
    catalogue: Path | None = typer.Option(  # noqa: B008
        None, help="Catalogue YAML (default: the repository's datasets/demo.yaml)."
    ),
    executor: str = typer.Option(
        "local",
        help="iterative, futures, local (LocalCluster, one worker per core), slurm, lsf, "
        "pbs, htcondor, gateway, or a scheduler address tcp://host:port.",
    ),
    workers: int | None = typer.Option(None, help="Workers (default: cores, or the config's)."),
    adaptive: str | None = typer.Option(None, help="Adaptive scaling MIN:MAX workers."),
    cluster_config: Path | None = typer.Option(  # noqa: B008
        None, help="Cluster YAML replacing deploy/<executor>.yaml."
    ),
    set_: list[str] = typer.Option(  # noqa: B008
        None, "--set", help="Override a cluster setting: key=value (dotted keys), repeatable."
    ),
    chunksize: int = typer.Option(100_000, min=1, help="Target events per chunk."),
    maxchunks: int | None = typer.Option(
        None,
        min=1,
        help="A quick look: at most N chunks per channel in all, taken in turn from data, "
        "each background process and each signal model (N >= their number touches every "
        "one); report.json lists the chunks and events skipped.",
    ),
    out: Path = typer.Option(Path("belleflow-output"), help="Output folder."),  # noqa: B008
    skip_bad_files: bool = typer.Option(
        False, help="Skip unreadable files and failed chunks (listed in the report)."
    ),
    resume: bool = typer.Option(False, help="Reuse the chunks an interrupted run stored."),
    unblind: str | None = typer.Option(
        None,
        metavar="REASON",
        help='Look at data in the signal region; say why: --unblind "approved by ...". '
        "Written into report.json.",
    ),
    tls_ca: Path | None = typer.Option(  # noqa: B008
        None, help="TLS: CA certificate (with --tls-cert/--tls-key)."
    ),
    tls_cert: Path | None = typer.Option(  # noqa: B008
        None, help="TLS: certificate of client, scheduler, workers."
    ),
    tls_key: Path | None = typer.Option(None, help="TLS: private key of --tls-cert."),  # noqa: B008
    retries: int = typer.Option(3, min=0, help="Extra attempts of a failing chunk."),
    sample: list[str] = typer.Option(  # noqa: B008
        None, help="Only this sample (repeatable)."
    ),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Run channels over a catalogue; write DIR/CHANNEL/{histograms.json,histograms.root,report.json}.

    Exit code 0 when every event was processed (or the gap was chosen with
    --maxchunks or --skip-bad-files), 1 when a file or chunk failed.
    """
    from belleflow.catalogue import CatalogueError  # noqa: PLC0415 - fast --help
    from belleflow.channels import available_channels  # noqa: PLC0415
    from belleflow.engine import BadFileError, RunError, run_channels  # noqa: PLC0415
    from belleflow.engine.executors import (  # noqa: PLC0415
        ClusterError,
        make_security,
        parse_adaptive,
    )
    from belleflow.engine.redact import redact  # noqa: PLC0415

    names = list(channels or [])
    if all_channels:
        names += [info.name for info in available_channels() if info.name not in names]
    if not names:
        typer.echo("give channel names or --all", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        scaling = parse_adaptive(adaptive) if adaptive else None
        security = make_security(tls_ca, tls_cert, tls_key)
        result = run_channels(
            names,
            catalogue=catalogue,
            executor=executor,
            workers=workers,
            adaptive=scaling,
            cluster_config=cluster_config,
            overrides=list(set_ or []),
            security=security,
            chunksize=chunksize,
            maxchunks=maxchunks,
            out=out,
            skip_bad_files=skip_bad_files,
            resume=resume,
            unblind=unblind,
            retries=retries,
            samples=list(sample) if sample else None,
            progress=progress,
            echo=typer.echo,
        )
    except KeyboardInterrupt:
        typer.echo(
            f"interrupted: the report in {out} says so; continue with the same command and --resume",
            err=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (BadFileError, RunError, CatalogueError, ClusterError) as err:
        typer.echo(f"error: {redact(str(err))}", err=True)
        raise typer.Exit(EXIT_INCOMPLETE) from None
    except (KeyError, TypeError, ValueError) as err:
        typer.echo(f"error: {redact(str(err))}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    failed = [
        name
        for name, channel in result.channels.items()
        if not channel.complete and channel.report["incomplete_reason"] == "failed"
    ]
    if failed:
        typer.echo(f"incomplete (events lost): {', '.join(failed)}", err=True)
        raise typer.Exit(EXIT_INCOMPLETE)
