"""``belleflow limits``: CLs limits for channels of a run output directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from belleflow.cli._console import console as shared_console
from belleflow.cli._runs import check_runs

__all__ = ["limits"]


def _models_for(channel: str, run_dir: Path, model_file: Path | None) -> dict[str, Any]:
    """StatModels from --model, else DIR/CHANNEL/stat_model.json, else the registered channel."""
    from belleflow.limits import StatModel, resolve_models  # noqa: PLC0415 - fast --help

    candidate = model_file or run_dir / channel / "stat_model.json"
    if candidate.exists():
        text = candidate.read_text()
        if candidate.suffix in {".yaml", ".yml"}:
            import yaml  # noqa: PLC0415

            model = StatModel.model_validate(yaml.safe_load(text))
        else:
            model = StatModel.model_validate(json.loads(text))
        return {model.signal_model: model}
    return resolve_models(channel)


def limits(
    channels: list[str] = typer.Argument(None, help="Channels to compute limits for."),  # noqa: B008
    all_channels: bool = typer.Option(False, "--all", help="Every channel found in --in."),
    run_dir: Path = typer.Option(..., "--in", help="Output directory of `belleflow run`."),  # noqa: B008
    executor: str = typer.Option("inprocess", help="inprocess, local or dask."),
    scheduler: str | None = typer.Option(None, help="Scheduler address for --executor dask."),
    workers: int = typer.Option(2, help="Workers of a local cluster."),
    cl: float | None = typer.Option(None, "--cl", help="Override the confidence level."),
    model_file: Path | None = typer.Option(  # noqa: B008
        None, "--model", help="StatModel JSON/YAML (one channel only)."
    ),
    no_plots: bool = typer.Option(False, "--no-plots", help="Skip the Brazil plots."),
    luminosity: str | None = typer.Option(
        None,
        "--luminosity",
        help="Project the expected limits to this luminosity (178/fb, 1.2/ab, 500/pb).",
    ),
    allow_incomplete: bool = typer.Option(
        False,
        "--allow-incomplete",
        help="Compute limits on a run whose report.json is not complete (its luminosity "
        "and weights then do not match the events read).",
    ),
    progress: bool = typer.Option(
        True, help="Show a progress bar per model (hypotheses done / total; on a terminal)."
    ),
) -> None:
    """Compute CLs upper limits, write limits.json, limits.csv and Brazil plots.

    With --luminosity the expected limits are projected to that luminosity
    (signal and simulation scaled, their MC-statistics uncertainty kept) and
    written into DIR/CHANNEL\\[/MODEL]/projection_<L>fb/, for comparison with a
    paper's expected limits. A run whose report.json is not complete is
    refused unless --allow-incomplete.
    """
    from belleflow.engine.executors import local_cluster  # noqa: PLC0415 - fast --help
    from belleflow.limits import compute_channel_limits  # noqa: PLC0415
    from belleflow.limits.conversion import parse_luminosity  # noqa: PLC0415
    from belleflow.progress import counter, progress_bar  # noqa: PLC0415

    console = shared_console()
    names = list(channels or [])
    check_runs(run_dir, ())  # the folder itself, before --all looks into it
    if all_channels:
        names = sorted(p.parent.name for p in run_dir.glob("*/histograms.json"))
    if not names:
        console.print("[red]give channel names or --all[/red]")
        raise typer.Exit(2)
    check_runs(run_dir, names)
    if model_file is not None and len(names) != 1:
        console.print("[red]--model applies to exactly one channel[/red]")
        raise typer.Exit(2)
    if executor not in {"inprocess", "local", "dask"}:
        console.print(f"[red]unknown executor {executor!r}[/red]")
        raise typer.Exit(2)
    for name in names:
        problem = _incomplete(run_dir / name / "report.json")
        if problem and not allow_incomplete:
            console.print(
                f"[red]{name}: {problem}: refusing to compute limits "
                "(--allow-incomplete to do it anyway)[/red]"
            )
            raise typer.Exit(1)
        if problem:
            console.print(f"[yellow]{name}: {problem}; computing limits anyway[/yellow]")
    target = None
    if luminosity is not None:
        try:
            target = parse_luminosity(luminosity)
        except ValueError as exc:
            console.print(f"[red]--luminosity: {exc}[/red]")
            raise typer.Exit(2) from None
    client = None
    cluster = None
    if executor == "local":
        # The engine's LocalCluster: scheduler, workers and dashboard on 127.0.0.1 only.
        import distributed  # noqa: PLC0415

        cluster = local_cluster(workers, dashboard_address="127.0.0.1:0")
        client = distributed.Client(cluster)  # type: ignore[no-untyped-call]
    if executor == "dask":
        if scheduler is None:
            console.print("[red]--executor dask needs --scheduler ADDRESS[/red]")
            raise typer.Exit(2)
        import distributed  # noqa: PLC0415

        client = distributed.Client(scheduler)  # type: ignore[no-untyped-call]
    try:
        for name in names:
            # One bar per channel, a line per model; the channel's tables follow it.
            with progress_bar(progress) as bar:
                results = compute_channel_limits(
                    name,
                    run_dir,
                    models=_models_for(name, run_dir, model_file),
                    client=client,
                    executor="inprocess" if client is not None else executor,
                    n_workers=workers,
                    cl=cl,
                    plots=not no_plots,
                    target_luminosity_fb=target,
                    progress=counter(bar, "hypotheses"),
                )
            for result in results:
                _print_result(console, name, result)
    finally:
        if client is not None:
            client.close()  # type: ignore[no-untyped-call]
        if cluster is not None:
            cluster.close()


def _incomplete(report_path: Path) -> str:
    """Why a run's outputs are not a complete run ("" if they are)."""
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no {report_path}"
    except (OSError, ValueError) as err:
        return f"{report_path} cannot be read ({err})"
    if not isinstance(report, dict):
        return f"{report_path} is not a belleflow report"
    if report.get("complete") is not True:
        reason = report.get("incomplete_reason") or "unknown reason"
        events = report.get("events") or {}
        read = f", {events.get('read')}/{events.get('expected')} events" if events else ""
        return f"the run is incomplete ({reason}{read})"
    return ""


def _print_result(console: Any, name: str, result: Any) -> None:
    """Print one statistical model's limits and where they were written."""
    # The model in the title: a channel's tables (six for dark_higgsstrahlung) must differ;
    # a model's folder names it (tautau_phil's prompt and displaced scan one signal model).
    model = result.model
    folder = result.files["json"].parent.name
    shown = (
        folder if folder != name and not folder.startswith("projection_") else model.signal_model
    )
    table = Table(title=f"{name} {shown}: {model.cl:.0%} CL limits ({model.units})")
    for column in ("mass [GeV]", "ctau [cm]", "method", "observed", "expected"):
        table.add_column(column)
    for p in result.converted[:: max(len(result.converted) // 10, 1)]:
        table.add_row(
            f"{p['mass']:.4g}",
            f"{p['ctau']:g}",
            p["method"],
            "blinded" if result.model.blinded else f"{p['observed_converted']:.3g}",
            f"{p['expected_converted'][2]:.3g}",
        )
    console.print(table)
    if result.projection is not None:
        console.print(
            f"expected limits projected to {result.luminosity_fb:.4g} fb^-1 "
            f"({result.projection:.4g} x the run's luminosity)"
        )
    elif result.model.blinded:
        console.print("blinded: expected limits only, no observed limit or significance")
    else:
        g = result.global_significance
        console.print(
            f"largest local excess Z = {g.z_local:.2f} at {g.mass:.4g} GeV; "
            f"global Z = {g.z_global:.2f} ({g.method})"
        )
    console.print(f"wrote {', '.join(sorted(str(p) for p in result.files.values()))}")
