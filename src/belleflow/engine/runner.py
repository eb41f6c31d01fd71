"""``run_channels``: plan, run on an executor, merge, scale, write, report.

For each channel the engine plans the run (:mod:`belleflow.engine.fileset`),
builds a coffea ``processor.Runner`` (``schema=Belle2Schema``,
``savemetrics=True``, a :class:`~belleflow.engine.checkpoint.JsonCheckpointer`,
a guarded executor), hands it the pre-built chunks, scales the merged raw
output with the catalogue weights (:func:`belleflow.processor.finalise_output`)
and writes ``DIR/CHANNEL/{histograms.json, histograms.root, report.json}``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import hist
from coffea import processor as coffea_processor

from belleflow import __version__
from belleflow.catalogue import Catalogue, default_catalogue_path, load_catalogue
from belleflow.channels import load_channel
from belleflow.engine.checkpoint import JsonCheckpointer
from belleflow.engine.executors import (
    ChunkError,
    GuardedDaskExecutor,
    GuardedFuturesExecutor,
    GuardedIterativeExecutor,
    open_client,
)
from belleflow.engine.fileset import FileMetadataCache, RunPlan, plan_channel
from belleflow.engine.outputs import write_histograms_json, write_histograms_root
from belleflow.engine.report import (
    build_report,
    command_line,
    configuration_hash,
    file_sha256,
    git_revision,
    now_iso,
    write_report,
)
from belleflow.processor import Channel, finalise_output
from belleflow.schema import Belle2Schema

__all__ = [
    "DEFAULT_CHUNKSIZE",
    "DEFAULT_OUT",
    "ChannelResult",
    "RunError",
    "RunResult",
    "resolve_channel",
    "run_channels",
]

#: Entries per chunk by default (coffea's default).
DEFAULT_CHUNKSIZE = 100_000
#: Output folder by default.
DEFAULT_OUT = "belleflow-output"


class RunError(RuntimeError):
    """A channel's run failed; ``report.json`` says why and is marked incomplete."""


@dataclass
class ChannelResult:
    """What one channel's run produced.

    Attributes:
        channel: Channel name.
        histograms: Final histograms (``process``, ``variation``, observables).
        cutflow: ``{sample: {cut: [raw, weighted]}}``.
        report: The content of ``report.json``.
        directory: ``DIR/CHANNEL`` (None if nothing was written).
    """

    channel: str
    histograms: dict[str, hist.Hist[Any]]
    cutflow: dict[str, dict[str, list[float]]]
    report: dict[str, Any]
    directory: Path | None

    @property
    def complete(self) -> bool:
        """Whether every event of every file was processed."""
        return bool(self.report.get("complete"))


@dataclass
class RunResult:
    """Results of :func:`run_channels`, by channel."""

    channels: dict[str, ChannelResult] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when every channel's run is complete."""
        return all(c.complete for c in self.channels.values())

    @property
    def histograms(self) -> dict[str, dict[str, hist.Hist[Any]]]:
        """Histograms by channel and name."""
        return {name: c.histograms for name, c in self.channels.items()}

    @property
    def reports(self) -> dict[str, dict[str, Any]]:
        """Reports by channel."""
        return {name: c.report for name, c in self.channels.items()}

    def __getitem__(self, channel: str) -> ChannelResult:
        return self.channels[channel]


def resolve_channel(spec: str | Channel) -> Channel:
    """A :class:`Channel` from itself, a registered name, ``module:attr`` or ``file.py:attr``.

    A channel loaded from a file is pickled by value so that Dask workers that
    cannot import the file still receive it.

    Raises:
        KeyError: Unknown registered name.
        TypeError: The object found is not a :class:`Channel`.
    """
    if isinstance(spec, Channel):
        return spec
    if ":" not in spec:
        found = load_channel(spec)
    else:
        target, _, attr = spec.rpartition(":")
        if target.endswith(".py"):
            path = Path(target).expanduser().resolve()
            name = f"belleflow_user_channel_{path.stem}"
            module_spec = importlib.util.spec_from_file_location(name, path)
            if module_spec is None or module_spec.loader is None:
                msg = f"cannot load channel file {path}"
                raise KeyError(msg)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
            cloudpickle.register_pickle_by_value(module)
        else:
            module = importlib.import_module(target)
        found = getattr(module, attr)
    if not isinstance(found, Channel):
        msg = f"{spec!r} is a {type(found).__name__}, not a belleflow.processor.Channel"
        raise TypeError(msg)
    return found


def _make_executor(
    executor: str,
    client: Any,
    *,
    workers: int | None,
    retries: int,
    skip_bad_files: bool,
    progress: bool,
) -> Any:
    common: dict[str, Any] = {
        "status": progress,
        "chunk_retries": retries,
        "skip_bad_files": skip_bad_files,
    }
    if client is not None:
        return GuardedDaskExecutor(client=client, **common)
    if executor == "iterative":
        return GuardedIterativeExecutor(**common)
    if executor == "futures":
        return GuardedFuturesExecutor(workers=workers or os.cpu_count() or 1, **common)
    msg = f"executor {executor!r} needs a Dask client"
    raise ValueError(msg)


@contextlib.contextmanager
def _client_for(
    executor: str,
    client: Any,
    *,
    workers: int | None,
    adaptive: tuple[int, int] | None,
    cluster_config: str | os.PathLike[str] | None,
    overrides: Sequence[str],
    echo: Callable[[str], None],
) -> Iterator[Any]:
    if client is not None:
        link = getattr(client, "dashboard_link", None)
        if link:
            echo(f"Dask dashboard: {link}")
        yield client
    elif executor in {"iterative", "futures"}:
        yield None
    else:
        with open_client(
            executor,
            workers=workers,
            adaptive=adaptive,
            cluster_config=cluster_config,
            overrides=overrides,
            echo=echo,
        ) as opened:
            yield opened


def run_channels(
    channels: Sequence[str | Channel],
    *,
    catalogue: str | os.PathLike[str] | None = None,
    executor: str = "local",
    client: Any = None,
    workers: int | None = None,
    adaptive: tuple[int, int] | None = None,
    cluster_config: str | os.PathLike[str] | None = None,
    overrides: Sequence[str] = (),
    chunksize: int = DEFAULT_CHUNKSIZE,
    maxchunks: int | None = None,
    out: str | os.PathLike[str] | None = DEFAULT_OUT,
    skip_bad_files: bool = False,
    resume: bool = False,
    unblind: bool = False,
    retries: int = 3,
    samples: Sequence[str] | None = None,
    progress: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    echo: Callable[[str], None] = print,
) -> RunResult:
    """Run channels over a catalogue and write their outputs.

    Args:
        channels: Channel names (entry points), ``module:attr``/``file.py:attr``
            specs, or :class:`Channel` objects.
        catalogue: Catalogue YAML (default: the repository's ``datasets/demo.yaml``).
        executor: ``iterative``, ``futures``, ``local``, ``slurm``, ``lsf``,
            ``pbs``, ``htcondor``, ``gateway`` or a scheduler address.
        client: An existing ``distributed.Client`` (then ``executor`` is ignored).
        workers: Workers (local cluster, futures pool, batch jobs).
        adaptive: ``(minimum, maximum)`` workers for adaptive scaling.
        cluster_config: YAML replacing ``deploy/<kind>.yaml``.
        overrides: ``key=value`` overrides of the cluster configuration.
        chunksize: Target entries per chunk.
        maxchunks: At most this many chunks per sample (a quick look; incomplete by choice).
        out: Output folder (None: write nothing, keep results in memory).
        skip_bad_files: Skip unusable files and failed chunks, listing them.
        resume: Reuse the chunks stored by an interrupted run of the same configuration.
        unblind: Fill data inside the channels' signal windows.
        retries: Extra attempts of a failing chunk.
        samples: Only these samples (by name).
        progress: Show progress bars.
        cache_dir: File metadata cache folder (default ``$BELLEFLOW_CACHE``).
        echo: Where messages (dashboard address, summaries) go.

    Returns:
        The :class:`RunResult`.

    Raises:
        belleflow.engine.fileset.BadFileError: A file fails the pre-run check
            (without ``skip_bad_files``).
        RunError: A chunk failed after its retries (without ``skip_bad_files``);
            the channel's ``report.json`` is written with ``complete: false``.
    """
    started = now_iso()
    resolved = [resolve_channel(c) for c in channels]
    catalogue_path = Path(catalogue) if catalogue is not None else default_catalogue_path()
    cat = load_catalogue(catalogue_path)
    catalogue_sha = file_sha256(catalogue_path)
    cache = FileMetadataCache(cache_dir)
    out_dir = Path(out) if out is not None else None
    provenance_base = {
        "belleflow_version": __version__,
        "git_revision": git_revision(),
        "catalogue": {
            "path": str(catalogue_path.resolve()),
            "name": cat.name,
            "sha256": catalogue_sha,
            "scale": cat.scale,
        },
        "command_line": command_line(),
        "executor": "dask client" if client is not None else executor,
        "configuration": {
            "chunksize": chunksize,
            "maxchunks": maxchunks,
            "retries": retries,
            "skip_bad_files": skip_bad_files,
            "resume": resume,
            "unblind": unblind,
            "samples": list(samples) if samples is not None else None,
        },
        "start": started,
    }
    plans = [
        plan_channel(
            cat,
            channel,
            chunksize=chunksize,
            maxchunks=maxchunks,
            unblind=unblind,
            skip_bad_files=skip_bad_files,
            cache=cache,
            samples=samples,
        )
        for channel in resolved
    ]
    result = RunResult()
    with _client_for(
        executor,
        client,
        workers=workers,
        adaptive=adaptive,
        cluster_config=cluster_config,
        overrides=overrides,
        echo=echo,
    ) as dask_client:
        for channel, plan in zip(resolved, plans, strict=True):
            runner_executor = _make_executor(
                executor,
                dask_client,
                workers=workers,
                retries=retries,
                skip_bad_files=skip_bad_files,
                progress=progress,
            )
            result.channels[channel.name] = _run_one(
                channel,
                plan,
                cat,
                runner_executor,
                out_dir=out_dir,
                provenance={
                    **provenance_base,
                    "configuration_hash": configuration_hash(
                        channel,
                        catalogue_sha256=catalogue_sha,
                        unblind=unblind,
                        samples=list(samples) if samples is not None else None,
                    ),
                },
                chunksize=chunksize,
                maxchunks=maxchunks,
                skip_bad_files=skip_bad_files,
                resume=resume,
                echo=echo,
            )
    return result


def _run_one(
    channel: Channel,
    plan: RunPlan,
    catalogue: Catalogue,  # noqa: ARG001 - kept for channels that need catalogue context later
    executor: Any,
    *,
    out_dir: Path | None,
    provenance: dict[str, Any],
    chunksize: int,
    maxchunks: int | None,
    skip_bad_files: bool,
    resume: bool,
    echo: Callable[[str], None],
) -> ChannelResult:
    directory = out_dir / channel.name if out_dir is not None else None
    checkpointer = None
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        checkpointer = JsonCheckpointer(
            directory / "checkpoints" / provenance["configuration_hash"], load_existing=resume
        )
        if not resume:
            shutil.rmtree(directory / "checkpoints", ignore_errors=True)
        # A previous run's files must never pass for this run's.
        for name in ("histograms.json", "histograms.root", "report.json"):
            (directory / name).unlink(missing_ok=True)
    runner = coffea_processor.Runner(
        executor=executor,
        chunksize=chunksize,
        schema=Belle2Schema,
        savemetrics=True,
        checkpointer=checkpointer,
        skipbadfiles=False,
    )
    processor_instance = channel.make_processor()
    tic = time.perf_counter()
    wrapped: dict[str, Any] | None = None
    error: str | None = None
    if plan.work_items:
        try:
            wrapped = runner.run(plan.work_items, processor_instance)
        except Exception as err:  # noqa: BLE001 - any failure is reported, then re-raised as RunError
            error = _failure_message(err)
    else:
        wrapped = {"out": {}}
    processing = time.perf_counter() - tic
    tic = time.perf_counter()
    final = None
    if wrapped is not None:
        processes = {name: s.process for name, s in plan.samples.items()}
        weights = {name: s.weight for name, s in plan.samples.items()}
        final = finalise_output(wrapped.get("out") or {}, processes, weights)
    timing = {"planning_s": plan.planning_seconds, "processing_s": processing}
    provenance = {**provenance, "end": now_iso()}
    report = build_report(
        channel=channel,
        plan=plan,
        wrapped=wrapped,
        final=final,
        provenance=provenance,
        timing=timing,
        skip_bad_files=skip_bad_files,
        maxchunks=maxchunks,
        error=error,
    )
    histograms = final["histograms"] if final else {}
    if directory is not None:
        if final is not None:
            write_histograms_json(histograms, directory / "histograms.json")
            write_histograms_root(histograms, directory / "histograms.root")
        report["timing"]["writing_s"] = round(time.perf_counter() - tic, 4)
        write_report(report, directory / "report.json")
        if report["complete"]:
            # Nothing left to resume: the stored chunks are only disk usage now.
            shutil.rmtree(directory / "checkpoints", ignore_errors=True)
    status = "complete" if report["complete"] else f"INCOMPLETE ({report['incomplete_reason']})"
    events = report["events"]
    echo(
        f"{channel.name}: {events['read']}/{events['expected']} events, "
        f"{report['chunks']['processed']} chunks, {status}"
        + (f" -> {directory}" if directory is not None else "")
    )
    if error is not None:
        msg = f"channel {channel.name!r}: {error}"
        raise RunError(msg)
    return ChannelResult(
        channel=channel.name,
        histograms=histograms,
        cutflow=final["cutflow"] if final else {},
        report=report,
        directory=directory,
    )


def _failure_message(err: BaseException) -> str:
    """The ChunkError (naming file and entries) if one is in the chain."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ChunkError):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    text = str(err)
    # Dask re-raises remote exceptions under their own type; the message survives.
    return text if text else type(err).__name__
