"""Planning a run: the samples a channel reads, their files, checks and chunks.

Planning never lets coffea reopen files: every file is checked once with a
cheap header read (it opens, has the ``events`` tree, is not truncated, and
its entries agree with its metadata), and the result (entries and UUID) is
cached in ``$BELLEFLOW_CACHE/files.sqlite`` (default
``~/.cache/belleflow``), keyed by path, modification time and size for local
files and by URL for remote ones (remote files are assumed immutable, as
coffea's own metadata cache does). The chunks are then built here as
coffea ``WorkItem`` objects and handed to ``Runner.run`` directly, which skips
coffea's preprocessing.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import uproot
from coffea.processor.executor import WorkItem

from belleflow.catalogue import Catalogue, CatalogueError, SampleView, is_url
from belleflow.naming import DATA, signal_label
from belleflow.ntuple import METADATA_NAME, TREE_NAME
from belleflow.processor import Channel

__all__ = [
    "CACHE_ENV",
    "BadFile",
    "BadFileError",
    "FileInfo",
    "FileMetadataCache",
    "RunPlan",
    "SamplePlan",
    "build_work_items",
    "cache_dir",
    "inspect_file",
    "inspect_files",
    "plan_channel",
    "process_label",
    "sample_plan",
]

#: Environment variable naming the cache folder.
CACHE_ENV = "BELLEFLOW_CACHE"
_SCHEMA_VERSION = 1
_SQL_BATCH = 900  # below SQLite's default limit of host parameters


def cache_dir() -> Path:
    """The cache folder: ``$BELLEFLOW_CACHE`` or ``~/.cache/belleflow``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "belleflow"


@dataclass(frozen=True)
class FileInfo:
    """What the header check learnt about one file.

    Attributes:
        path: Path or URL as the catalogue resolved it.
        entries: Entries of the event tree (None if unreadable).
        uuid: The ROOT file UUID as 32 hex digits ("" if unknown).
        error: Why the file is unusable ("" if it is fine).
        cached: Whether the information came from the cache.
    """

    path: str
    entries: int | None
    uuid: str = ""
    error: str = ""
    cached: bool = False

    @property
    def ok(self) -> bool:
        """True if the file can be processed."""
        return not self.error and self.entries is not None


@dataclass(frozen=True)
class BadFile:
    """A file (or file pattern) that will not be processed, and what is lost."""

    sample: str
    path: str
    reason: str
    lost_events: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return asdict(self)


def _cache_key(path: str) -> str | None:
    if is_url(path):
        return path
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return f"{Path(path).resolve()}|{stat.st_mtime_ns}|{stat.st_size}"


class FileMetadataCache:
    """SQLite cache of per-file entries and UUIDs (successful checks only).

    Args:
        directory: Cache folder (created if needed); default :func:`cache_dir`.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        folder = Path(directory) if directory is not None else cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "files.sqlite"
        # One short-lived connection per call keeps the cache usable from threads.
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS files "
                "(key TEXT PRIMARY KEY, entries INTEGER, uuid TEXT, version INTEGER)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def get_many(self, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
        """Cached ``(entries, uuid)`` by key, for the keys present."""
        out: dict[str, tuple[int, str]] = {}
        with self._connect() as db:
            for i in range(0, len(keys), _SQL_BATCH):
                batch = list(keys[i : i + _SQL_BATCH])
                marks = ",".join("?" * len(batch))
                rows = db.execute(
                    f"SELECT key, entries, uuid FROM files WHERE version = ? AND key IN ({marks})",
                    [_SCHEMA_VERSION, *batch],
                )
                out.update({key: (int(entries), str(uid)) for key, entries, uid in rows})
        return out

    def put_many(self, rows: Iterable[tuple[str, int, str]]) -> None:
        """Store ``(key, entries, uuid)`` rows."""
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                [(key, entries, uid, _SCHEMA_VERSION) for key, entries, uid in rows],
            )


def inspect_file(path: str, *, timeout: int = 60) -> FileInfo:
    """Cheap header check of one file (no basket is decompressed).

    Checks that the file exists and opens, holds the event tree, is not
    truncated (local files: size on disk against the ROOT header), and that
    the tree's entries agree with the belleflow metadata when present.

    Returns:
        The :class:`FileInfo`; ``error`` names the problem.
    """
    if not is_url(path) and not Path(path).is_file():
        return FileInfo(path, None, error="file not found")
    try:
        with uproot.open(path, timeout=timeout) as file:
            entries: int | None = None
            if TREE_NAME in file:
                entries = int(file[TREE_NAME].num_entries)
            uid = bytes(file.file.fUUID).hex()
            if not is_url(path):
                size = Path(path).stat().st_size
                if size < file.file.fEND:
                    msg = f"truncated: {size} bytes on disk, the ROOT header says {file.file.fEND}"
                    return FileInfo(path, entries, uid, error=msg)
            if entries is None:
                return FileInfo(path, None, uid, error=f"no TTree {TREE_NAME!r}")
            if METADATA_NAME in file:
                try:
                    declared = json.loads(str(file[METADATA_NAME])).get("n_events")
                except (ValueError, AttributeError):
                    declared = None
                if declared is not None and int(declared) != entries:
                    msg = f"tree has {entries} entries, its metadata says {declared}"
                    return FileInfo(path, entries, uid, error=msg)
    except Exception as err:  # noqa: BLE001 - any failure to open is reported with the file
        return FileInfo(path, None, error=f"cannot be opened ({type(err).__name__}: {err})")
    return FileInfo(path, entries, uid)


def inspect_files(
    paths: Sequence[str],
    *,
    cache: FileMetadataCache | None = None,
    threads: int = 16,
    timeout: int = 60,
) -> dict[str, FileInfo]:
    """Check many files, using and filling the cache.

    Args:
        paths: Paths and URLs.
        cache: Metadata cache (None: no caching).
        threads: Parallel header checks for files not in the cache.
        timeout: Seconds before giving up on a remote file.

    Returns:
        :class:`FileInfo` by path.
    """
    keys = {path: _cache_key(path) for path in paths}
    known = cache.get_many([k for k in keys.values() if k is not None]) if cache else {}
    out: dict[str, FileInfo] = {}
    todo: list[str] = []
    for path, key in keys.items():
        if key is not None and key in known:
            entries, uid = known[key]
            out[path] = FileInfo(path, entries, uid, cached=True)
        else:
            todo.append(path)
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(todo)))) as pool:
            checked = list(pool.map(lambda p: inspect_file(p, timeout=timeout), todo))
        out.update({info.path: info for info in checked})
        if cache is not None:
            cache.put_many(
                (key, info.entries, info.uuid)
                for info in checked
                if info.ok and info.entries is not None and (key := keys[info.path]) is not None
            )
    return out


def process_label(view: SampleView) -> str:
    """The ``process`` axis label of a sample (belleflow.naming)."""
    if view.kind == "data":
        return DATA
    if view.kind == "signal":
        return signal_label(view.process, view.mass or 0.0, view.ctau or 0.0)
    return view.process


@dataclass(frozen=True)
class SamplePlan:
    """One sample of a channel's run, with the metadata every chunk carries.

    Attributes:
        name: Sample name (coffea's ``dataset``).
        kind: ``data``, ``simulation`` or ``signal``.
        process: ``process`` axis label.
        weight: Per-event normalisation from the catalogue.
        experiment: ``Belle`` or ``Belle II``.
        machine: ``KEKB`` or ``SuperKEKB``.
        luminosity: Effective luminosity in fb^-1.
        generated_events: Effective generated events (None for data).
        model: Signal model (signals only).
        mass: Signal mass in GeV (signals only).
        ctau: Signal c*tau in cm (signals only).
        files: Resolved files.
    """

    name: str
    kind: str
    process: str
    weight: float
    experiment: str
    machine: str
    luminosity: float
    generated_events: int | None
    model: str | None = None
    mass: float | None = None
    ctau: float | None = None
    files: tuple[str, ...] = ()

    def usermeta(self, *, unblind: bool) -> dict[str, Any]:
        """What the engine puts into ``events.metadata`` besides coffea's keys."""
        return {
            "kind": self.kind,
            "process": self.process,
            "weight": self.weight,
            "experiment": self.experiment,
            "machine": self.machine,
            "unblind": unblind,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (files excluded: they are in the accounting)."""
        out = asdict(self)
        del out["files"]
        out["n_files"] = len(self.files)
        return out


def sample_plan(view: SampleView, files: Sequence[str]) -> SamplePlan:
    """The :class:`SamplePlan` of a catalogue sample view."""
    signal = view.kind == "signal"
    return SamplePlan(
        name=view.name,
        kind=view.kind,
        process=process_label(view),
        weight=float(view.weight),
        experiment=view.experiment,
        machine=view.machine,
        luminosity=float(view.effective_luminosity),
        generated_events=view.effective_events,
        model=view.process if signal else None,
        mass=view.mass if signal else None,
        ctau=view.ctau if signal else None,
        files=tuple(files),
    )


@dataclass
class RunPlan:
    """Everything decided before a channel's run starts.

    Attributes:
        channel: Channel name.
        samples: The samples, by name.
        files: Header-check result by path.
        bad_files: Files (or patterns) excluded, with the events lost.
        work_items: The chunks to process.
        expected: Entries by path of the files that will be processed.
        skipped_by_choice: Events of good files not processed (``maxchunks``), by path.
        planning_seconds: Time spent planning.
    """

    channel: str
    samples: dict[str, SamplePlan]
    files: dict[str, FileInfo]
    bad_files: list[BadFile] = field(default_factory=list)
    work_items: list[WorkItem] = field(default_factory=list)
    expected: dict[str, int] = field(default_factory=dict)
    skipped_by_choice: dict[str, int] = field(default_factory=dict)
    planning_seconds: float = 0.0

    @property
    def sample_of_file(self) -> dict[str, str]:
        """Sample name by file path."""
        return {path: s.name for s in self.samples.values() for path in s.files}


def _chunk_bounds(entries: int, chunksize: int) -> list[tuple[int, int]]:
    """coffea's chunking: equal chunks of at most about ``chunksize`` entries."""
    if entries <= 0:
        return []
    n = max(round(entries / chunksize), 1)
    size = math.ceil(entries / n)
    return [(start, min(entries, start + size)) for start in range(0, entries, size)]


def build_work_items(
    samples: Mapping[str, SamplePlan],
    files: Mapping[str, FileInfo],
    *,
    chunksize: int,
    maxchunks: int | None = None,
    unblind: bool = False,
) -> tuple[list[WorkItem], dict[str, int]]:
    """The chunks of good files, and the events ``maxchunks`` leaves out.

    Args:
        samples: Samples with their files.
        files: Header-check results (bad files are left out).
        chunksize: Target entries per chunk.
        maxchunks: At most this many chunks per sample (quick looks).
        unblind: Passed to the processors through the metadata.

    Returns:
        The work items, and by path the entries not processed because of ``maxchunks``.
    """
    items: list[WorkItem] = []
    left_out: dict[str, int] = {}
    for sample in samples.values():
        meta = sample.usermeta(unblind=unblind)
        taken = 0
        for path in sample.files:
            info = files[path]
            if not info.ok or info.entries is None:
                continue
            fileuuid = bytes.fromhex(info.uuid) if info.uuid else b""
            for start, stop in _chunk_bounds(info.entries, chunksize):
                if maxchunks is not None and taken >= maxchunks:
                    left_out[path] = left_out.get(path, 0) + stop - start
                    continue
                items.append(
                    WorkItem(sample.name, path, TREE_NAME, start, stop, fileuuid, dict(meta))
                )
                taken += 1
    return items, left_out


def plan_channel(
    catalogue: Catalogue,
    channel: Channel,
    *,
    chunksize: int,
    maxchunks: int | None = None,
    unblind: bool = False,
    skip_bad_files: bool = False,
    cache: FileMetadataCache | None = None,
    samples: Sequence[str] | None = None,
) -> RunPlan:
    """Plan one channel: samples of its skim and experiments, checked files, chunks.

    Args:
        catalogue: The loaded catalogue.
        channel: The channel.
        chunksize: Target entries per chunk.
        maxchunks: At most this many chunks per sample.
        unblind: Fill data inside signal windows.
        skip_bad_files: Leave out unusable files (listed in the plan) instead of failing.
        cache: File metadata cache.
        samples: Only these samples (by name), if given.

    Returns:
        The :class:`RunPlan`.

    Raises:
        CatalogueError: A sample's files are missing (without ``skip_bad_files``).
        BadFileError: A file fails the header check (without ``skip_bad_files``).
    """
    tic = time.perf_counter()
    views = [v for v in catalogue.skim(channel.skim) if v.experiment in channel.experiments]
    if samples is not None:
        views = [v for v in views if v.name in set(samples)]
    plans: dict[str, SamplePlan] = {}
    bad: list[BadFile] = []
    for view in views:
        try:
            paths = catalogue.resolve_files(view, check=True)
        except CatalogueError as err:
            if not skip_bad_files:
                raise
            bad.append(BadFile(view.name, ", ".join(view.files), str(err), None))
            paths = catalogue.resolve_files(view, check=False)
        plans[view.name] = sample_plan(view, paths)
    all_paths = list(dict.fromkeys(p for s in plans.values() for p in s.files))
    infos = inspect_files(all_paths, cache=cache)
    owner = {path: s.name for s in plans.values() for path in s.files}
    for path in all_paths:
        info = infos[path]
        if info.ok:
            continue
        if not skip_bad_files:
            msg = f"{path}: {info.error} (sample {owner[path]!r}, channel {channel.name!r})"
            raise BadFileError(msg)
        bad.append(BadFile(owner[path], path, info.error, info.entries))
    items, left_out = build_work_items(
        plans, infos, chunksize=chunksize, maxchunks=maxchunks, unblind=unblind
    )
    expected = {p: int(i.entries) for p, i in infos.items() if i.ok and i.entries is not None}
    return RunPlan(
        channel=channel.name,
        samples=plans,
        files=infos,
        bad_files=bad,
        work_items=items,
        expected=expected,
        skipped_by_choice=left_out,
        planning_seconds=time.perf_counter() - tic,
    )


class BadFileError(RuntimeError):
    """A file cannot be processed; the message names it and the reason."""
