"""``run_channels``: plan, run on an executor, merge, scale, blind, write, report.

For each channel the engine plans the run (:mod:`belleflow.engine.fileset`);
then one coffea ``processor.Runner`` (``schema=Belle2Schema``,
``savemetrics=True``, a guarded executor holding each channel's
:class:`~belleflow.engine.checkpoint.JsonCheckpointer`) reads every planned
chunk once and runs on it the channels that want it
(:mod:`belleflow.engine.onepass`). For each channel the engine then scales
its merged raw output with the catalogue weights
(:func:`belleflow.processor.finalise_output`), blinds the data cutflow
(:mod:`belleflow.engine.blinding`) and writes
``DIR/CHANNEL/{histograms.json, histograms.root, report.json}``, as a run of
that channel alone would.

Outputs are atomic per run: a run writes into a fresh ``DIR/.CHANNEL.staging``
and, when it ends, that folder replaces ``DIR/CHANNEL`` as a whole. A run
that failed or was interrupted (planning included) replaces it with a
report saying so (``complete: false``, ``incomplete_reason``, ``error``) and
no histograms, so no earlier result passes for this run's; until a run ends,
the previous outputs stay as they were. ``--resume`` refuses to replace a
complete run of another configuration.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import json
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
from belleflow.catalogue import default_catalogue_path, load_catalogue
from belleflow.channels import load_channel
from belleflow.engine.blinding import (
    blind_chunk,
    blind_cutflows,
    blinding_record,
    check_unblind_reason,
)
from belleflow.engine.checkpoint import JsonCheckpointer
from belleflow.engine.executors import (
    ChunkError,
    GuardedDaskExecutor,
    GuardedFuturesExecutor,
    GuardedIterativeExecutor,
    check_reachable,
    lost_workers,
    open_client,
)
from belleflow.engine.fileset import FileMetadataCache, RunPlan, plan_channel
from belleflow.engine.onepass import OnePassProcessor, merge_work_items
from belleflow.engine.outputs import write_histograms_json, write_histograms_root
from belleflow.engine.redact import RedactLogsPlugin, install_log_redaction, redact
from belleflow.engine.report import (
    build_report,
    command_line,
    configuration_hash,
    failure_report,
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
    """A channel's run failed or was refused; the message says why.

    When the run started, ``DIR/CHANNEL/report.json`` says why and is marked
    incomplete.
    """


@dataclass
class ChannelResult:
    """What one channel's run produced.

    Attributes:
        channel: Channel name.
        histograms: Final histograms (``process``, ``variation``, observables).
        cutflow: ``{sample: {cut: [raw, weighted]}}`` (data stops before the
            signal-region cut while blinded).
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
    checkpointers: dict[str, JsonCheckpointer],
    desc: str = "Processing",
) -> Any:
    common: dict[str, Any] = {
        "status": progress,
        "desc": desc,  # the bar's name: the channel(s)
        "chunk_retries": retries,
        "skip_bad_files": skip_bad_files,
        "checkpointers": checkpointers,
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
    security: Any,
    echo: Callable[[str], None],
) -> Iterator[Any]:
    if client is not None:
        # The caller's workers too must not log a file URL's secrets.
        client.register_plugin(RedactLogsPlugin())
        install_log_redaction()
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
            security=security,
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
    security: Any = None,
    chunksize: int = DEFAULT_CHUNKSIZE,
    maxchunks: int | None = None,
    out: str | os.PathLike[str] | None = DEFAULT_OUT,
    skip_bad_files: bool = False,
    resume: bool = False,
    unblind: str | None = None,
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
        security: ``distributed.Security`` for TLS
            (:func:`belleflow.engine.executors.make_security`).
        chunksize: Target entries per chunk.
        maxchunks: At most this many chunks per channel, spread over data, backgrounds
            and signal models (a quick look; incomplete by choice; see
            :func:`belleflow.engine.fileset.build_work_items`).
        out: Output folder (None: write nothing, keep results in memory).
        skip_bad_files: Skip unusable files and failed chunks, listing them.
        resume: Reuse the chunks stored by an interrupted run of the same configuration.
        unblind: Why the data may be looked at inside the signal region
            (e.g. ``"approved by the review committee on 2026-11-30"``); None
            (the default) keeps the run blinded.
        retries: Extra attempts of a failing chunk.
        samples: Only these samples (by name).
        progress: Show progress bars.
        cache_dir: File metadata cache folder (default ``$BELLEFLOW_CACHE``).
        echo: Where messages (dashboard address, summaries) go; URLs are redacted.

    Returns:
        The :class:`RunResult`.

    Raises:
        belleflow.engine.fileset.BadFileError: A file or a sample fails the
            pre-run checks (without ``skip_bad_files``); the channel's report says so.
        RunError: A chunk failed after its retries (without ``skip_bad_files``),
            or ``resume`` would replace a complete run of another configuration.
        belleflow.engine.executors.ClusterError: The cluster cannot be reached.
        KeyboardInterrupt: After writing the report of the interrupted channel.
        ValueError: An empty ``unblind`` reason.
    """
    reason = check_unblind_reason(unblind)
    if client is None and "://" in executor:
        check_reachable(executor, security=security)

    def say(text: str) -> None:
        echo(redact(text))

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
            "unblind": reason is not None,
            "unblind_reason": reason,
            "samples": list(samples) if samples is not None else None,
        },
        "start": started,
    }
    runs = []
    for channel in resolved:
        provenance = {
            **provenance_base,
            "configuration_hash": configuration_hash(
                channel,
                catalogue_sha256=catalogue_sha,
                unblind=reason is not None,
                samples=list(samples) if samples is not None else None,
            ),
        }
        outputs = _Outputs(out_dir, channel, provenance, blinding_record(channel, reason))
        if resume:
            outputs.refuse_replacing_other_configuration()
        runs.append((channel, outputs))
    plans: list[RunPlan] = []
    for channel, outputs in runs:
        with outputs.on_failure():
            plans.append(
                plan_channel(
                    cat,
                    channel,
                    chunksize=chunksize,
                    maxchunks=maxchunks,
                    unblind=reason is not None,
                    skip_bad_files=skip_bad_files,
                    cache=cache,
                    samples=samples,
                )
            )
    result = RunResult()
    with (
        _runs_on_failure([o for _, o in runs]),
        _client_for(
            executor,
            client,
            workers=workers,
            adaptive=adaptive,
            cluster_config=cluster_config,
            overrides=overrides,
            security=security,
            echo=say,
        ) as dask_client,
    ):
        pass_ = _run_pass(
            runs,
            plans,
            executor=executor,
            client=dask_client,
            workers=workers,
            chunksize=chunksize,
            retries=retries,
            skip_bad_files=skip_bad_files,
            resume=resume,
            progress=progress,
        )
        failed: RunError | None = None
        for (channel, outputs), plan in zip(runs, plans, strict=True):
            try:
                result.channels[channel.name] = _finish(
                    channel,
                    plan,
                    pass_,
                    outputs=outputs,
                    client=dask_client,
                    maxchunks=maxchunks,
                    skip_bad_files=skip_bad_files,
                    unblind=reason is not None,
                    echo=say,
                )
            except RunError as err:
                # Every channel's outputs are written before a failure is raised: the
                # failing channel's own, or the first channel's.
                if failed is None or str(err).startswith(pass_.error or ""):
                    failed = err
        if failed is not None:
            raise failed
    return result


class _Outputs:
    """Where one channel's run writes: staging, publication, checkpoints, failure reports."""

    def __init__(
        self,
        out_dir: Path | None,
        channel: Channel,
        provenance: dict[str, Any],
        blinding: dict[str, Any],
    ) -> None:
        self.channel = channel
        self.provenance = provenance
        self.blinding = blinding
        self.directory = out_dir / channel.name if out_dir is not None else None
        self.staging = out_dir / f".{channel.name}.staging" if out_dir is not None else None
        self.checkpoints = (
            out_dir / ".checkpoints" / channel.name / provenance["configuration_hash"]
            if out_dir is not None
            else None
        )
        self.done = False

    def refuse_replacing_other_configuration(self) -> None:
        """``--resume`` continues a run; it never replaces a complete one of another configuration."""
        if self.directory is None:
            return
        try:
            previous = json.loads((self.directory / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if (
            isinstance(previous, dict)
            and previous.get("complete") is True
            and previous.get("configuration_hash") != self.provenance["configuration_hash"]
        ):
            before = (previous.get("configuration") or {}).get("samples")
            now = self.provenance["configuration"]["samples"]
            msg = (
                f"{self.directory} holds a complete run of another configuration "
                f"(samples {before or 'all'}, now {now or 'all'}; or another catalogue, "
                "processor or blinding): --resume only continues the same run; "
                "use another --out, or run without --resume to replace it"
            )
            raise RunError(msg)

    def start(self) -> Path | None:
        """A fresh staging folder holding a report that says the run is running."""
        if self.staging is None:
            return None
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True)
        self.write_failure("running", "the run has not finished")
        return self.staging

    def write_failure(self, reason: str, error: str) -> None:
        """A report without histograms: the run stopped (or has not finished)."""
        if self.staging is None:
            return
        self.staging.mkdir(parents=True, exist_ok=True)
        for name in ("histograms.json", "histograms.root"):
            (self.staging / name).unlink(missing_ok=True)
        report = failure_report(
            channel=self.channel,
            provenance={**self.provenance, "end": now_iso()},
            blinding=self.blinding,
            error=error,
            reason=reason,
        )
        write_report(report, self.staging / "report.json")

    def publish(self) -> None:
        """Replace ``DIR/CHANNEL`` by the staging folder (two renames, then cleanup)."""
        self.done = True
        if self.directory is None or self.staging is None:
            return
        old = self.directory.with_name(f".{self.channel.name}.replaced-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        if self.directory.exists():
            self.directory.rename(old)
        self.staging.rename(self.directory)
        shutil.rmtree(old, ignore_errors=True)

    @contextlib.contextmanager
    def on_failure(self) -> Iterator[None]:
        """Publish a failure report if the block raises (or is interrupted), then re-raise."""
        try:
            yield
        except BaseException as err:
            self.fail(err)
            raise

    def fail(self, err: BaseException) -> None:
        """Publish the report of a run stopped by ``err``."""
        if self.done:
            return
        interrupted = isinstance(err, KeyboardInterrupt)
        reason = "interrupted" if interrupted else "failed"
        text = "interrupted (SIGINT)" if interrupted else _failure_message(err)
        self.write_failure(reason, text)
        self.publish()


@contextlib.contextmanager
def _runs_on_failure(runs: Sequence[_Outputs]) -> Iterator[None]:
    """A failure outside a channel's run (the cluster) still ends every unfinished run."""
    try:
        yield
    except BaseException as err:
        for outputs in runs:
            outputs.fail(err)
        raise


def _prepare_chunk(output: Any, metadata: dict[str, Any], *, signal_region_cut: str | None) -> Any:
    """What a checkpoint stores: a data chunk of a blinded run is blinded first."""
    if metadata.get("kind") == "data" and not metadata.get("unblind"):
        return blind_chunk(output, signal_region_cut)
    return output


@dataclass
class _Pass:
    """What the one pass over the files of all channels produced."""

    wrapped: dict[str, Any] | None
    error: str | None
    processing_seconds: float
    since: float

    def channel(self, name: str) -> tuple[dict[str, Any] | None, str | None]:
        """A channel's wrapped output (as a single-channel coffea run's) and its error."""
        if self.error is not None:
            own = f"channel {name!r}: "
            if self.error.startswith(own) or not self.error.startswith("channel "):
                return None, self.error.removeprefix(own)
            return None, f"the pass over the files stopped: {self.error}"
        assert self.wrapped is not None  # no error means an output
        out = self.wrapped["out"]["channels"].get(name, {"out": {}})
        return {"out": {}, **out}, None


def _run_pass(
    runs: Sequence[tuple[Channel, _Outputs]],
    plans: Sequence[RunPlan],
    *,
    executor: str,
    client: Any,
    workers: int | None,
    chunksize: int,
    retries: int,
    skip_bad_files: bool,
    resume: bool,
    progress: bool,
) -> _Pass:
    """Read every planned chunk once and run on it each channel that wants it."""
    checkpointers: dict[str, JsonCheckpointer] = {}
    for channel, outputs in runs:
        outputs.start()
        if outputs.checkpoints is not None:
            if not resume:
                shutil.rmtree(outputs.checkpoints.parent, ignore_errors=True)
            checkpointers[channel.name] = JsonCheckpointer(
                outputs.checkpoints,
                load_existing=resume,
                prepare=functools.partial(
                    _prepare_chunk, signal_region_cut=channel.signal_region_cut
                ),
            )
    runner = coffea_processor.Runner(
        executor=_make_executor(
            executor,
            client,
            workers=workers,
            retries=retries,
            skip_bad_files=skip_bad_files,
            progress=progress,
            checkpointers=checkpointers,
            desc=", ".join(channel.name for channel, _ in runs),
        ),
        chunksize=chunksize,
        schema=Belle2Schema,
        savemetrics=True,
        skipbadfiles=False,
    )
    processor_instance = OnePassProcessor({c.name: c.make_processor() for c, _ in runs})
    items = merge_work_items(
        {channel.name: plan.work_items for (channel, _), plan in zip(runs, plans, strict=True)}
    )
    since = time.time()
    tic = time.perf_counter()
    wrapped: dict[str, Any] | None = {"out": {"channels": {}}}
    error: str | None = None
    if items:
        try:
            wrapped = runner.run(items, processor_instance)
        except Exception as err:  # noqa: BLE001 - any failure is reported, then re-raised as RunError
            wrapped, error = None, redact(_failure_message(err))
    return _Pass(wrapped, error, time.perf_counter() - tic, since)


def _finish(
    channel: Channel,
    plan: RunPlan,
    pass_: _Pass,
    *,
    outputs: _Outputs,
    client: Any,
    maxchunks: int | None,
    skip_bad_files: bool,
    unblind: bool,
    echo: Callable[[str], None],
) -> ChannelResult:
    """Scale, blind, report and publish one channel's share of the pass."""
    with outputs.on_failure():
        staging = outputs.staging
        wrapped, error = pass_.channel(channel.name)
        tic = time.perf_counter()
        final = None
        if wrapped is not None:
            processes = {name: s.process for name, s in plan.samples.items()}
            weights = {name: s.weight for name, s in plan.samples.items()}
            final = finalise_output(wrapped.get("out") or {}, processes, weights)
            if not unblind:
                data = {name for name, s in plan.samples.items() if s.kind == "data"}
                final["cutflow"] = blind_cutflows(final["cutflow"], data, channel.signal_region_cut)
        timing = {"planning_s": plan.planning_seconds, "processing_s": pass_.processing_seconds}
        report = build_report(
            channel=channel,
            plan=plan,
            wrapped=wrapped,
            final=final,
            provenance={**outputs.provenance, "end": now_iso()},
            timing=timing,
            skip_bad_files=skip_bad_files,
            maxchunks=maxchunks,
            blinding=outputs.blinding,
            cluster={
                "workers_lost": lost_workers(client, pass_.since) if client is not None else []
            },
            error=error,
        )
        histograms = final["histograms"] if final else {}
        if staging is not None:
            if final is not None:
                write_histograms_json(histograms, staging / "histograms.json")
                write_histograms_root(histograms, staging / "histograms.root")
            report["timing"]["writing_s"] = round(time.perf_counter() - tic, 4)
            write_report(report, staging / "report.json")
            outputs.publish()
            if report["complete"] and outputs.checkpoints is not None:
                # Nothing left to resume: the stored chunks are only disk usage now.
                shutil.rmtree(outputs.checkpoints.parent, ignore_errors=True)
    status = "complete" if report["complete"] else f"INCOMPLETE ({report['incomplete_reason']})"
    events = report["events"]
    unknown = events["expected_unknown_samples"]
    expected = f"{events['expected']}" + (
        f" + unknown ({len(unknown)} sample(s) lost files of unknown size)" if unknown else ""
    )
    skipped = len(plan.bad_files) + len(report["failures"])
    workers_lost = len(report["cluster"]["workers_lost"])
    echo(
        f"{channel.name}: {events['read']}/{expected} events, "
        f"{report['chunks']['processed']} chunks"
        + (f", {skipped} bad file(s) or chunk(s) skipped" if skipped else "")
        + (f", {workers_lost} worker(s) lost" if workers_lost else "")
        + f", {status}"
        + (f" -> {outputs.directory}" if outputs.directory is not None else "")
    )
    if error is not None:
        msg = f"channel {channel.name!r}: {error}"
        raise RunError(msg)
    return ChannelResult(
        channel=channel.name,
        histograms=histograms,
        cutflow=final["cutflow"] if final else {},
        report=report,
        directory=outputs.directory,
    )


def _failure_message(err: BaseException) -> str:
    """The ChunkError (naming file and entries) if one is in the chain."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ChunkError):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    text = " ".join(str(err).split())
    # Dask re-raises remote exceptions under their own type; the message survives.
    return redact(text) if text else type(err).__name__
