"""Executors: where chunks run, and what happens when one fails.

``belleflow run --executor`` accepts:

- ``iterative``: coffea ``IterativeExecutor`` (one process, easiest to debug);
- ``futures``: coffea ``FuturesExecutor`` (a local process pool);
- ``local`` (default): a Dask ``LocalCluster``, one single-threaded worker per core;
- ``slurm``, ``lsf``, ``pbs``, ``htcondor``: dask-jobqueue clusters configured by
  ``deploy/<name>.yaml`` (``lsf`` reads ``deploy/kekcc-lsf.yaml``), a file given
  with ``--cluster-config`` and ``--set key=value`` overrides;
- ``gateway``: a dask-gateway cluster (``deploy/gateway.yaml``);
- ``tcp://host:port`` (or any scheduler address, ``tls://`` with ``--tls-*``):
  an existing Dask scheduler, reached within :data:`CONNECT_TIMEOUT` seconds.

Exposure: the LocalCluster's scheduler, workers and dashboard listen on
127.0.0.1 only. TLS (``tls://``, :class:`distributed.Security`) is switched on
with a CA, a certificate and its key (:func:`make_security`; ``--tls-ca``,
``--tls-cert``, ``--tls-key`` or the ``security`` key of a deploy YAML); then
every connection is encrypted and authenticated.

Failures: coffea's own retries are switched off and every chunk runs
inside :class:`ChunkGuard`, which retries it (``retries`` times), counts the
retries, and after the last attempt either raises :class:`ChunkError` naming
the file and entry range, or (with ``skip_bad_files``) returns an output that
records the failure and the events lost, so the report can list them.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import ctypes.util
import importlib
import logging
import os
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from coffea.processor import CheckpointerABC, DaskExecutor, FuturesExecutor, IterativeExecutor
from coffea.processor import executor as coffea_executor
from coffea.processor.executor import WorkItem
from distributed.diagnostics.plugin import WorkerPlugin

from belleflow import resources
from belleflow.engine.onepass import CHANNELS_KEY, ChannelChunk, without_channels
from belleflow.engine.redact import RedactLogsPlugin, install_log_redaction, redact
from belleflow.processor import chunk_key

__all__ = [
    "BATCH_SYSTEMS",
    "CONNECT_TIMEOUT",
    "EXECUTORS",
    "LOCAL_CLUSTER_CONFIG",
    "LOOPBACK",
    "ChunkError",
    "ChunkGuard",
    "ClusterError",
    "ClusterSpec",
    "GuardedDaskExecutor",
    "GuardedFuturesExecutor",
    "GuardedIterativeExecutor",
    "IgnoreInterruptsPlugin",
    "TuneAllocatorPlugin",
    "check_reachable",
    "deploy_dir",
    "job_script",
    "load_cluster_spec",
    "local_cluster",
    "lost_workers",
    "make_security",
    "open_client",
    "parse_adaptive",
    "parse_overrides",
    "tune_allocator",
]

#: Batch systems and the deploy/ file each reads by default.
BATCH_SYSTEMS: dict[str, str] = {
    "slurm": "slurm.yaml",
    "lsf": "kekcc-lsf.yaml",
    "pbs": "pbs.yaml",
    "htcondor": "htcondor.yaml",
    "gateway": "gateway.yaml",
}
#: Executor names understood besides a scheduler address.
EXECUTORS = ("iterative", "futures", "local", *BATCH_SYSTEMS)


#: Seconds to reach a scheduler before giving up with :class:`ClusterError`.
CONNECT_TIMEOUT = 5
#: Where the engine's LocalCluster listens (scheduler, workers, dashboard).
LOOPBACK = "127.0.0.1"


class ChunkError(RuntimeError):
    """A chunk failed after all its attempts; the message names file and entries."""


class ClusterError(RuntimeError):
    """The Dask cluster cannot be reached or started; the message says which and why."""


#: glibc ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's own ceiling of its dynamic mmap threshold on 64-bit systems (32 MiB).
MMAP_THRESHOLD = 32 * 2**20
_allocator_tuned: bool | None = None


def tune_allocator() -> bool:
    """Undo, in this process, the glibc setting that slows Dask workers down.

    Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536``
    (``distributed.nanny.pre-spawn-environ``). Setting any malloc threshold
    switches glibc's *dynamic* mmap threshold off, so every array above
    128 KiB is ``mmap``-ed and returned to the system on ``free``: with
    100,000-event chunks almost every NumPy/awkward temporary pays fresh
    page faults, and the same processor measured 1.5-2x slower (CPU time) in
    a worker than in a plain process. This sets the mmap threshold to
    glibc's dynamic ceiling (32 MiB) and the trim threshold to twice that,
    the values a plain process converges to, once per process. Peak memory
    is unchanged (measured).

    Applied only when ``MALLOC_TRIM_THRESHOLD_`` or ``MALLOC_TOP_PAD_`` is in
    the environment (the dynamic threshold is then off) and the user has not
    chosen ``MALLOC_MMAP_THRESHOLD_``; a no-op elsewhere (macOS, musl) and
    with ``BELLEFLOW_TUNE_MALLOC=0``.

    Returns:
        Whether the thresholds were changed (by this call or an earlier one).
    """
    global _allocator_tuned  # noqa: PLW0603 - once per process
    if _allocator_tuned is not None:
        return _allocator_tuned
    _allocator_tuned = False
    env = os.environ
    if (
        not sys.platform.startswith("linux")
        or env.get("BELLEFLOW_TUNE_MALLOC", "1") == "0"
        or "MALLOC_MMAP_THRESHOLD_" in env
        or not ("MALLOC_TRIM_THRESHOLD_" in env or "MALLOC_TOP_PAD_" in env)
    ):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _allocator_tuned = bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and mallopt(_M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD)
    )
    return _allocator_tuned


@dataclass
class ChunkGuard:
    """Wraps coffea's per-chunk function: per-channel checkpoints, retries, failure records.

    The chunk's work item names its channels (``usermeta[CHANNELS_KEY]``,
    :mod:`belleflow.engine.onepass`). Channels whose output of the chunk is
    stored (``--resume``) are not run again; the others run in one pass over
    the chunk. A channel that fails is retried (``retries`` times) alone, so
    a failure of one channel never repeats, fails or completes another's
    chunk. The guard returns, by channel, what a single-channel coffea run
    returns for the chunk (``{"out", "metrics", "processed"}``, plus
    ``retries`` and, with ``skip_bad_files``, ``failures``).

    Args:
        function: coffea's closure for one work item (its processor is a
            :class:`~belleflow.engine.onepass.OnePassProcessor`).
        retries: Extra attempts after a failure.
        skip_bad_files: Record a failure (with the events lost) instead of raising.
        checkpointers: Each channel's checkpointer (coffea's own is not used).
    """

    function: Callable[[Any], Any]
    retries: int = 3
    skip_bad_files: bool = False
    checkpointers: Mapping[str, CheckpointerABC] = field(default_factory=dict)

    def __call__(self, item: Any) -> Any:
        # Runs where the chunk runs (a Dask worker): see tune_allocator.
        if _allocator_tuned is None:
            tune_allocator()
        # DaskExecutor passes (work item, heavy input) pairs.
        work, rest = (item[0], item[1:]) if isinstance(item, tuple) else (item, None)
        plain = without_channels(work)
        metadata = _chunk_metadata(plain)
        wanted = list((work.usermeta or {}).get(CHANNELS_KEY, ()))
        done: dict[str, Any] = {}
        for name in wanted:
            checkpointer = self.checkpointers.get(name)
            stored = checkpointer.load(metadata, None) if checkpointer is not None else None
            if stored is not None:
                done[name] = stored
        attempts = dict.fromkeys(wanted, 0)
        errors: dict[str, BaseException] = {}
        todo = [name for name in wanted if name not in done]
        while todo:
            sub = replace(work, usermeta={**(plain.usermeta or {}), CHANNELS_KEY: todo})
            try:
                out = self.function(sub if rest is None else (sub, *rest))
            except Exception as err:  # noqa: BLE001 - reading failed: every channel's attempt did
                results: dict[str, ChannelChunk] = {n: ChannelChunk(None, 0.0, err) for n in todo}
                metrics: dict[str, Any] = {}
            else:
                results = out["out"]["channels"]
                metrics = out.get("metrics", {})
            for name in todo:
                attempts[name] += 1
                result = results[name]
                if result.error is not None:
                    errors[name] = result.error
                    continue
                wrapped = {
                    "out": result.output,
                    "metrics": {**metrics, "processtime": result.seconds},
                    "processed": {plain},
                }
                if name in self.checkpointers:
                    self.checkpointers[name].save(wrapped, metadata, None)
                if attempts[name] > 1:
                    wrapped["retries"] = {_describe(work): attempts[name] - 1}
                done[name] = wrapped
            todo = [n for n in todo if n not in done and attempts[n] <= self.retries]
        for name in wanted:
            if name not in done:
                done[name] = self._failure(name, work, errors[name])
        return {"out": {"channels": done}, "processed": {plain}}

    def _failure(self, name: str, work: Any, error: BaseException) -> dict[str, Any]:
        reason = redact(_root_message(error))
        where = redact(_describe(work))
        if not self.skip_bad_files:
            msg = f"channel {name!r}: {where}: failed after {self.retries + 1} attempt(s): {reason}"
            # Not chained: the original exception's text may hold the file's full URL.
            raise ChunkError(msg) from None
        lost = work.entrystop - work.entrystart if isinstance(work, WorkItem) else 0
        return {
            "failures": {
                where: {"reason": reason, "lost_events": lost, "attempts": self.retries + 1}
            },
        }


def _chunk_metadata(work: WorkItem) -> dict[str, Any]:
    """The metadata coffea gives a checkpointer for a work item."""
    return {
        "dataset": work.dataset,
        "filename": work.filename,
        "treename": work.treename,
        "entrystart": work.entrystart,
        "entrystop": work.entrystop,
        "fileuuid": str(uuid.UUID(bytes=bytes(work.fileuuid))) if len(work.fileuuid) else "",
        **(work.usermeta or {}),
    }


def _describe(work: Any) -> str:
    if isinstance(work, WorkItem):
        return chunk_key(work.filename, work.entrystart, work.entrystop)
    return repr(work)


def _root_message(err: BaseException | None) -> str:
    """The innermost cause: coffea wraps errors in generic ``Exception`` layers."""
    if err is None:
        return "unknown error"
    while err.__cause__ is not None:
        err = err.__cause__
    return f"{type(err).__name__}: {err}"


@dataclass
class _GuardMixin:
    """Adds :class:`ChunkGuard` around the function coffea's executor maps."""

    chunk_retries: int = 3
    skip_bad_files: bool = False
    checkpointers: Mapping[str, CheckpointerABC] = field(default_factory=dict)

    def __call__(self, items: Any, function: Callable[[Any], Any], accumulator: Any) -> Any:
        # Metadata fetching is not used (the engine plans itself) but stays unguarded.
        if getattr(self, "function_name", None) != "get_metadata":
            function = ChunkGuard(
                function, self.chunk_retries, self.skip_bad_files, self.checkpointers
            )
        with _bars(bool(getattr(self, "status", True))):
            return super().__call__(items, function, accumulator)  # type: ignore[misc]


@contextlib.contextmanager
def _bars(status: bool) -> Iterator[None]:
    """coffea's bars, drawn by :func:`belleflow.progress.progress_bar`, counting chunks.

    coffea's iterative and futures executors draw their ``rich`` bar
    whatever ``status`` says (the iterative one only hides the task, not the
    bar), on stdout even when it is not a terminal: their bar factory is
    swapped for one on stderr, off without ``status`` or a terminal. The
    Dask executor's bar is swapped for one counting chunks, not tasks
    (:mod:`belleflow.engine.chunkbar`).
    """
    from coffea.processor import _dask as coffea_dask  # noqa: PLC0415 - its module holds the bar

    from belleflow.engine.chunkbar import dask_chunk_progress  # noqa: PLC0415
    from belleflow.progress import progress_bar  # noqa: PLC0415

    originals = coffea_executor.rich_bar, coffea_dask.progress
    coffea_executor.rich_bar = lambda: progress_bar(status)
    coffea_dask.progress = dask_chunk_progress
    try:
        yield
    finally:
        coffea_executor.rich_bar, coffea_dask.progress = originals


@dataclass
class GuardedIterativeExecutor(_GuardMixin, IterativeExecutor):  # type: ignore[misc]
    """coffea ``IterativeExecutor`` with :class:`ChunkGuard` (``retries`` must stay 0)."""

    retries: int = 0


@dataclass
class GuardedFuturesExecutor(_GuardMixin, FuturesExecutor):  # type: ignore[misc]
    """coffea ``FuturesExecutor`` with :class:`ChunkGuard` (``retries`` must stay 0)."""

    retries: int = 0


@dataclass
class GuardedDaskExecutor(_GuardMixin, DaskExecutor):  # type: ignore[misc]
    """coffea ``DaskExecutor`` with :class:`ChunkGuard` (``retries`` must stay 0)."""

    retries: int = 0


# ---------------------------------------------------------------- clusters


def deploy_dir() -> Path:
    """The shipped cluster configurations (``deploy/``, package data).

    See :func:`belleflow.resources.deploy_dir`.
    """
    return resources.deploy_dir()


@dataclass
class ClusterSpec:
    """A cluster configuration: ``deploy/*.yaml`` after overrides.

    Attributes:
        kind: ``slurm``, ``lsf``, ``pbs``, ``htcondor`` or ``gateway``.
        cluster: Keyword arguments of the dask-jobqueue cluster class (or, for
            the gateway, of ``Gateway.new_cluster``).
        workers: Workers to start (``scale``), unless ``adapt`` is set.
        adapt: ``{"minimum": n, "maximum": m}`` for adaptive scaling.
        gateway: ``dask_gateway.Gateway`` arguments (gateway only).
        security: ``tls_ca``, ``tls_cert``, ``tls_key`` file paths (TLS, batch systems).
        source: The file the configuration came from.
    """

    kind: str
    cluster: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    adapt: dict[str, int] | None = None
    gateway: dict[str, Any] = field(default_factory=dict)
    security: dict[str, str] = field(default_factory=dict)
    source: str = ""


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``["cluster.cores=4", "workers=10"]`` -> nested dict (values parsed as YAML).

    Raises:
        ValueError: For an item without ``=``.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            msg = f"--set expects key=value (dotted keys allowed), got {pair!r}"
            raise ValueError(msg)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(value)
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_cluster_spec(
    kind: str,
    config: str | os.PathLike[str] | None = None,
    overrides: Sequence[str] = (),
) -> ClusterSpec:
    """Read a cluster configuration.

    Args:
        kind: ``slurm``, ``lsf``, ``pbs``, ``htcondor`` or ``gateway``.
        config: YAML file; default ``deploy/<kind>.yaml`` (see :data:`BATCH_SYSTEMS`).
        overrides: ``key=value`` items (``--set``), dotted keys into the YAML.

    Returns:
        The :class:`ClusterSpec`.

    Raises:
        ValueError: Unknown kind, unreadable file, or a file for another kind.
    """
    if kind not in BATCH_SYSTEMS:
        msg = f"unknown cluster kind {kind!r} (known: {', '.join(BATCH_SYSTEMS)})"
        raise ValueError(msg)
    path = Path(config) if config is not None else deploy_dir() / BATCH_SYSTEMS[kind]
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        msg = f"cluster configuration {path} cannot be read: {err}"
        raise ValueError(msg) from err
    document = _merge(document, parse_overrides(overrides))
    declared = document.get("kind", kind)
    if declared != kind:
        msg = f"{path}: configures a {declared!r} cluster, not {kind!r}"
        raise ValueError(msg)
    allowed = ("kind", "cluster", "workers", "adapt", "gateway", "security")
    unknown = set(document) - set(allowed)
    if unknown:
        msg = f"{path}: unknown keys {sorted(unknown)} (allowed: {', '.join(allowed)})"
        raise ValueError(msg)
    security = dict(document.get("security") or {})
    if set(security) - {"tls_ca", "tls_cert", "tls_key"}:
        msg = f"{path}: security: allowed keys are tls_ca, tls_cert, tls_key"
        raise ValueError(msg)
    return ClusterSpec(
        kind=kind,
        cluster=dict(document.get("cluster") or {}),
        workers=int(document.get("workers", 1)),
        adapt=document.get("adapt"),
        gateway=dict(document.get("gateway") or {}),
        security={k: str(v) for k, v in security.items()},
        source=str(path),
    )


def _jobqueue_class(kind: str) -> Any:
    # Imported here: dask-jobqueue is only needed for batch systems.
    from dask_jobqueue.htcondor import HTCondorCluster  # noqa: PLC0415
    from dask_jobqueue.lsf import LSFCluster  # noqa: PLC0415
    from dask_jobqueue.pbs import PBSCluster  # noqa: PLC0415
    from dask_jobqueue.slurm import SLURMCluster  # noqa: PLC0415

    classes: dict[str, Any] = {
        "slurm": SLURMCluster,
        "lsf": LSFCluster,
        "pbs": PBSCluster,
        "htcondor": HTCondorCluster,
    }
    return classes[kind]


def job_script(spec: ClusterSpec, scheduler: str = "tcp://127.0.0.1:8786") -> str:
    """The batch job script a jobqueue cluster of this spec submits (no cluster needed).

    Args:
        spec: A batch-system spec (not the gateway).
        scheduler: Scheduler address written into the worker command.
    """
    job_cls = _jobqueue_class(spec.kind).job_cls
    return str(job_cls(scheduler=scheduler, name="belleflow-worker", **spec.cluster).job_script())


def parse_adaptive(text: str) -> tuple[int, int]:
    """``"MIN:MAX"`` -> ``(MIN, MAX)``.

    Raises:
        ValueError: If malformed or ``MIN > MAX``.
    """
    low, sep, high = text.partition(":")
    try:
        minimum, maximum = int(low), int(high)
    except ValueError:
        minimum = maximum = -1
    if not sep or minimum < 0 or maximum < minimum or maximum == 0:
        msg = f"--adaptive expects MIN:MAX with 0 <= MIN <= MAX, MAX > 0; got {text!r}"
        raise ValueError(msg)
    return minimum, maximum


#: Dask settings of every LocalCluster the project starts (:func:`local_cluster`):
#: the workers' statistical profiler samples the running task's stack every 10 ms
#: (measured: about 3 % of a worker's CPU on awkward-heavy chunks; the dashboard's
#: profile page is then empty), and the GIL-contention monitor (when
#: ``gilknocker`` is installed) samples the GIL every millisecond.
LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
}


def _nested(dotted: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}`` (the form a Nanny's ``config`` takes)."""
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


class TuneAllocatorPlugin(WorkerPlugin):
    """Worker plugin of every LocalCluster the project starts: :func:`tune_allocator` at start.

    The chunk guard tunes the allocator of the workers that run chunks; this
    does it for every worker of a :func:`local_cluster` (limit scans, the
    demo's limits), including workers an adaptive cluster starts later.
    """

    name = "belleflow-tune-allocator"

    def setup(self, worker: Any) -> None:  # noqa: ARG002 - distributed's signature
        """Called by distributed in each worker process."""
        tune_allocator()


def make_security(
    tls_ca: str | os.PathLike[str] | None,
    tls_cert: str | os.PathLike[str] | None,
    tls_key: str | os.PathLike[str] | None,
) -> Any:
    """A ``distributed.Security`` requiring TLS, or None when no file is given.

    One certificate and key serve the client, the scheduler and the workers
    (as on a LocalCluster or batch jobs sharing a filesystem); the CA
    authenticates the peers.

    Raises:
        ValueError: Not all three given, or a file that does not exist.
    """
    given = {"--tls-ca": tls_ca, "--tls-cert": tls_cert, "--tls-key": tls_key}
    if all(v is None for v in given.values()):
        return None
    absent = [name for name, value in given.items() if value is None]
    if absent:
        msg = f"TLS needs --tls-ca, --tls-cert and --tls-key together; missing {', '.join(absent)}"
        raise ValueError(msg)
    for name, value in given.items():
        if not Path(str(value)).is_file():
            msg = f"{name} {value}: no such file"
            raise ValueError(msg)
    distributed: Any = importlib.import_module("distributed")
    ca, cert, key = (str(v) for v in given.values())
    return distributed.Security(
        tls_ca_file=ca,
        tls_client_cert=cert,
        tls_client_key=key,
        tls_scheduler_cert=cert,
        tls_scheduler_key=key,
        tls_worker_cert=cert,
        tls_worker_key=key,
        require_encryption=True,
    )


def local_cluster(workers: int | None = None, *, security: Any = None, **kwargs: Any) -> Any:
    """The project's one Dask ``LocalCluster`` factory (``run``, ``demo``, ``limits``, notebooks).

    One single-threaded worker process per core by default. Every worker,
    including those an adaptive cluster starts later, gets
    :data:`LOCAL_CLUSTER_CONFIG` (no statistical profiler, no GIL monitor),
    :class:`TuneAllocatorPlugin` (the allocator setting Dask's nanny imposes
    is undone) and :class:`IgnoreInterruptsPlugin` (Ctrl-C is the client's); scheduler, workers and dashboard listen on
    :data:`LOOPBACK` only (port 8787 for the dashboard, or a free one), over
    TLS when ``security`` is a ``distributed.Security``. Keyword arguments go
    to ``LocalCluster``. Use it as a context manager.

    Examples:
        >>> from belleflow.engine.executors import local_cluster
        >>> import distributed
        >>> with local_cluster(1, dashboard_address=":0") as cluster:  # doctest: +SKIP
        ...     with distributed.Client(cluster) as client:
        ...         client.submit(sum, [1, 2]).result()
        3
    """
    distributed: Any = importlib.import_module("distributed")
    dask: Any = importlib.import_module("dask")
    options: dict[str, Any] = {
        "n_workers": workers or os.cpu_count() or 1,
        "threads_per_worker": 1,
        "processes": True,
        "host": LOOPBACK,
        "dashboard_address": _dashboard_address(),
        # Nanny options: they apply to every worker, also those started later. A
        # Nanny's config replaces whole top-level sections: give it all of it.
        "config": dask.config.merge(dask.config.config, _nested(LOCAL_CLUSTER_CONFIG)),
        "plugins": {TuneAllocatorPlugin(), IgnoreInterruptsPlugin()},
        **kwargs,
    }
    if security is not None:
        options.update(security=security, protocol="tls://")
    with _sigint_ignored():
        return distributed.LocalCluster(**options)


def _dashboard_address(port: int = 8787) -> str:
    """Dask's usual dashboard port when it is free, else any free one.

    Asking Dask for a taken port makes it warn (four lines on every run, and an
    error under pytest's ``filterwarnings=error``) before it takes another.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return f"{LOOPBACK}:0"
    return f"{LOOPBACK}:{port}"


def check_reachable(
    address: str, *, security: Any = None, timeout: float = CONNECT_TIMEOUT
) -> None:
    """Fail fast when a scheduler address cannot work (before any planning).

    Raises:
        ClusterError: The address is malformed, its TCP port does not answer,
            or it is ``tls://`` and no certificates were given.
    """
    if address.startswith("tls://") and security is None:
        msg = (
            f"the scheduler at {redact(address)} uses TLS: give --tls-ca, --tls-cert and --tls-key"
        )
        raise ClusterError(msg)
    distributed: Any = importlib.import_module("distributed")
    try:
        _, location = distributed.comm.parse_address(address)
        host, port = distributed.comm.addressing.parse_host_port(location)
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except (OSError, ValueError, TypeError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        msg = f"cannot reach the Dask scheduler at {redact(address)}: {redact(reason)}"
        raise ClusterError(msg) from None


class _CancelledTasks(logging.Filter):
    """Drops a worker's "Async instruction ... ended with CancelledError" warnings.

    A worker logs one for every task still running when its client cancels
    it, which happens on a LocalCluster only when the run was interrupted or
    failed; the run itself says so in one line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "ended with CancelledError" not in record.getMessage()


class IgnoreInterruptsPlugin(WorkerPlugin):
    """Worker plugin of every LocalCluster the project starts: workers leave Ctrl-C to the client.

    Ctrl-C reaches the whole process group; the run (its client) handles it,
    writes its report and stops the cluster. Workers that took the signal
    too, or warned about each task the client cancelled, would only print
    tracebacks and warnings under the run's one-line message. Workers
    :func:`local_cluster` starts are born ignoring SIGINT; this covers the
    ones an adaptive cluster starts later.
    """

    name = "belleflow-ignore-interrupts"

    def setup(self, worker: Any) -> None:  # noqa: ARG002 - distributed's signature
        """Called by distributed in each worker (in its main thread)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        logging.getLogger("distributed.worker.state_machine").addFilter(_CancelledTasks())


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes are spawned, so that they inherit it.

    An ignored signal is the one disposition that survives ``exec``, and
    Python keeps it: a worker spawned now cannot be killed by a Ctrl-C meant
    for the client while it is still importing (a wall of tracebacks). A
    Ctrl-C in these seconds is lost; the next one stops the run.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _connect(distributed: Any, address: str, security: Any) -> Any:
    try:
        return distributed.Client(address, security=security, timeout=f"{CONNECT_TIMEOUT}s")
    except (OSError, TimeoutError, TypeError) as err:
        # TypeError: distributed's word for a TLS address without TLS settings.
        reason = " ".join(str(err).split()) or type(err).__name__
        msg = f"cannot reach the Dask scheduler at {redact(address)}: {redact(reason)}"
        raise ClusterError(msg) from None


@contextlib.contextmanager
def open_client(
    executor: str,
    *,
    workers: int | None = None,
    adaptive: tuple[int, int] | None = None,
    cluster_config: str | os.PathLike[str] | None = None,
    overrides: Sequence[str] = (),
    security: Any = None,
    echo: Callable[[str], None] = print,
) -> Iterator[Any]:
    """Start (and at the end stop) the Dask cluster an executor name asks for.

    Args:
        executor: ``local``, a batch system, ``gateway``, or a scheduler address.
        workers: Workers to start (``local``: default one per core).
        adaptive: ``(minimum, maximum)`` for adaptive scaling.
        cluster_config: YAML overriding ``deploy/<kind>.yaml``.
        overrides: ``--set`` items.
        security: A ``distributed.Security`` (:func:`make_security`) for TLS;
            batch systems also read the ``security`` key of their YAML.
        echo: Where to print the dashboard address.

    Yields:
        A connected ``distributed.Client``, whose workers redact URLs in their logs.

    Raises:
        ClusterError: The scheduler cannot be reached within :data:`CONNECT_TIMEOUT` s.
    """
    # distributed's Client and LocalCluster are untyped: handle the module as Any.
    distributed: Any = importlib.import_module("distributed")

    with contextlib.ExitStack() as stack:
        if "://" in executor:
            client = stack.enter_context(_connect(distributed, executor, security))
        elif executor == "local":
            # Our workers are stopped once every result is in. On a busy machine one
            # takes more than the nanny's 4 s to exit and is killed: harmless, but it
            # printed "Worker process still alive after 4.0 seconds, killing" at the end
            # of every run. The nanny lives in this process: its logger is raised while
            # the cluster closes (callbacks run last-in, first-out) and then restored.
            nanny_log = logging.getLogger("distributed.nanny")
            stack.callback(nanny_log.setLevel, nanny_log.level)
            cluster = stack.enter_context(local_cluster(workers, security=security))
            if adaptive:
                cluster.adapt(minimum=adaptive[0], maximum=adaptive[1])
            client = stack.enter_context(_connect(distributed, cluster, security))
            stack.callback(nanny_log.setLevel, logging.ERROR)
        elif executor == "gateway":
            spec = load_cluster_spec("gateway", cluster_config, overrides)
            from dask_gateway import Gateway  # noqa: PLC0415 - optional dependency

            gateway = stack.enter_context(Gateway(**spec.gateway))
            cluster = stack.enter_context(gateway.new_cluster(**spec.cluster))
            _scale(cluster, spec, workers, adaptive)
            client = stack.enter_context(cluster.get_client())
        elif executor in BATCH_SYSTEMS:
            spec = load_cluster_spec(executor, cluster_config, overrides)
            if security is None and spec.security:
                security = make_security(
                    spec.security.get("tls_ca"),
                    spec.security.get("tls_cert"),
                    spec.security.get("tls_key"),
                )
            options = {**spec.cluster, **({"security": security} if security else {})}
            cluster = stack.enter_context(_jobqueue_class(executor)(**options))
            _scale(cluster, spec, workers, adaptive)
            client = stack.enter_context(_connect(distributed, cluster, security))
        else:
            msg = f"unknown executor {executor!r}: use one of {', '.join(EXECUTORS)} or tcp://..."
            raise ValueError(msg)
        client.register_plugin(RedactLogsPlugin())
        install_log_redaction()
        link = getattr(client, "dashboard_link", None)
        if link:
            echo(f"Dask dashboard: {link}")
        yield client


def lost_workers(client: Any, since: float) -> list[dict[str, Any]]:
    """Workers the scheduler lost unexpectedly since ``since`` (a ``time.time()``).

    Dask reschedules what a lost worker was running, so results stay right;
    the report lists each loss and the tasks (chunks) it cost.

    Returns:
        ``[{"worker": address, "time": t, "tasks_lost": n}]``.
    """
    try:
        events = client.get_events("all")
    except Exception:  # noqa: BLE001 - a scheduler without events: nothing to report
        return []
    out = []
    for stamp, message in events:
        if (
            stamp >= since
            and isinstance(message, dict)
            and message.get("action") == "remove-worker"
            and not message.get("expected")
        ):
            tasks = set(message.get("processing-tasks") or ()) | set(
                message.get("lost-computed-tasks") or ()
            )
            out.append(
                {
                    "worker": str(message.get("worker", "")),
                    "time": round(float(stamp), 3),
                    "tasks_lost": len(tasks),
                }
            )
    return out


def _scale(
    cluster: Any, spec: ClusterSpec, workers: int | None, adaptive: tuple[int, int] | None
) -> None:
    if adaptive is not None:
        cluster.adapt(minimum=adaptive[0], maximum=adaptive[1])
    elif workers is None and spec.adapt:
        cluster.adapt(**spec.adapt)
    else:
        cluster.scale(workers or spec.workers)
