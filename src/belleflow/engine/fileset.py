"""Planning a run: the samples a channel reads, their files, checks, accounting and chunks.

Planning never lets coffea reopen files: every file is checked once with a
cheap header read (:func:`inspect_file`: it opens, has a non-empty ``events``
tree whose branches have the names and types of the format, is not
truncated, and its entries agree with its metadata), and the facts learnt
(entries, UUID, content identity, the sample and index its metadata declare)
are cached in ``$BELLEFLOW_CACHE/files.sqlite`` (default
``~/.cache/belleflow``), keyed by path, modification time and size for local
files and by a hash of the URL for remote ones (remote files are assumed
immutable, as coffea's own metadata cache does; the URL itself, which may
carry a token, is never stored).

Then every sample is accounted for before anything runs
(:func:`plan_channel`): a file whose content was already seen (same size and
header, so the same file under two names) is a duplicate; a file whose
metadata names another sample, or data where simulation is expected, is an
extra file; files missing from the production's numbering are missing; and
the events of a simulation or signal sample must equal the catalogue's
``events`` that its weight uses. Without ``skip_bad_files`` any of these
stops the run (:class:`BadFileError`); with it they are listed with their
events and the run is incomplete.

The chunks are then built here as coffea ``WorkItem`` objects and handed to
``Runner.run`` directly, which skips coffea's preprocessing.
"""

from __future__ import annotations

import dataclasses
import hashlib
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

import numpy as np
import uproot
from coffea.processor.executor import WorkItem

from belleflow.catalogue import Catalogue, CatalogueError, SampleView, is_url
from belleflow.engine.redact import redact
from belleflow.naming import DATA, signal_label
from belleflow.ntuple import METADATA_NAME, TREE_NAME
from belleflow.ntuple.format import COLLECTIONS, EVENT_BRANCHES, SIMULATION_ONLY
from belleflow.processor import Channel

__all__ = [
    "CACHE_ENV",
    "BadFile",
    "BadFileError",
    "FileInfo",
    "FileMetadataCache",
    "RunPlan",
    "SampleAccount",
    "SamplePlan",
    "branch_problems",
    "build_work_items",
    "cache_dir",
    "inspect_file",
    "inspect_files",
    "plan_channel",
    "process_label",
    "quick_look_group",
    "sample_plan",
]

#: Environment variable naming the cache folder.
CACHE_ENV = "BELLEFLOW_CACHE"
_SCHEMA_VERSION = 2
#: Bytes of a file's beginning hashed (with its size) into its content identity:
#: the ROOT header, with the file's UUID, and the start of its directory.
IDENTITY_BYTES = 4096
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
        identity: Hash of the file's size and first :data:`IDENTITY_BYTES`
            bytes: equal for copies of one file under two names ("" if unknown).
        sample: The sample its metadata names, for files of belleflow's
            production (None for others, e.g. imported ones).
        kind: ``data`` or ``simulation`` from its metadata (None without).
        index: Its number in the production of its sample (None if not declared).
        n_files: Files the production of its sample wrote (None if not declared).
        error: Why the file is unusable ("" if it is fine).
        cached: Whether the information came from the cache.
    """

    path: str
    entries: int | None
    uuid: str = ""
    identity: str = ""
    sample: str | None = None
    kind: str | None = None
    index: int | None = None
    n_files: int | None = None
    error: str = ""
    cached: bool = False

    @property
    def ok(self) -> bool:
        """True if the file can be processed."""
        return not self.error and self.entries is not None

    def facts(self) -> dict[str, Any]:
        """What the cache stores (everything but path, error and ``cached``)."""
        return {
            "uuid": self.uuid,
            "identity": self.identity,
            "sample": self.sample,
            "kind": self.kind,
            "index": self.index,
            "n_files": self.n_files,
        }


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
        # Never the URL itself: it may carry a token.
        return "url-sha256:" + hashlib.sha256(path.encode()).hexdigest()
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return f"{Path(path).resolve()}|{stat.st_mtime_ns}|{stat.st_size}"


class FileMetadataCache:
    """SQLite cache of what :func:`inspect_file` learnt (successful checks only).

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
                "CREATE TABLE IF NOT EXISTS checked_files "
                "(key TEXT PRIMARY KEY, entries INTEGER, facts TEXT, version INTEGER)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def get_many(self, keys: Sequence[str]) -> dict[str, tuple[int, dict[str, Any]]]:
        """Cached ``(entries, facts)`` by key, for the keys present."""
        out: dict[str, tuple[int, dict[str, Any]]] = {}
        with self._connect() as db:
            for i in range(0, len(keys), _SQL_BATCH):
                batch = list(keys[i : i + _SQL_BATCH])
                marks = ",".join("?" * len(batch))
                rows = db.execute(
                    "SELECT key, entries, facts FROM checked_files "
                    f"WHERE version = ? AND key IN ({marks})",
                    [_SCHEMA_VERSION, *batch],
                )
                out.update({key: (int(n), json.loads(facts)) for key, n, facts in rows})
        return out

    def put_many(self, rows: Iterable[tuple[str, int, dict[str, Any]]]) -> None:
        """Store ``(key, entries, facts)`` rows."""
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO checked_files VALUES (?, ?, ?, ?)",
                [(key, n, json.dumps(facts), _SCHEMA_VERSION) for key, n, facts in rows],
            )


def _expected_branches(simulation: bool) -> dict[str, str]:
    """Branch name -> NumPy dtype name of the format, for data or simulation."""
    dropped = {(c, v) for c, v in SIMULATION_ONLY}
    out = {b.name: b.dtype for b in EVENT_BRANCHES}
    for collection, variables in COLLECTIONS.items():
        if not simulation and (collection, None) in dropped:
            continue
        out[f"n{collection}"] = "int32"
        for b in variables:
            if simulation or (collection, b.name) not in dropped:
                out[f"{collection}_{b.name}"] = b.dtype
    return out


_FORMAT = {simulation: _expected_branches(simulation) for simulation in (False, True)}


def branch_problems(tree: Any, *, simulation: bool) -> str:
    """Branches of an event tree missing from it or stored with another type.

    Extra branches are allowed; names and types come from
    :mod:`belleflow.ntuple.format`.

    Returns:
        "" if the tree follows the format, else a one-line description.
    """
    missing: list[str] = []
    wrong: list[str] = []
    for name, dtype in _FORMAT[simulation].items():
        if name not in tree:
            missing.append(name)
            continue
        interpretation = tree[name].interpretation
        stored = getattr(getattr(interpretation, "content", interpretation), "to_dtype", None)
        if stored is None or stored != np.dtype(dtype):
            wrong.append(
                f"{name} is {stored if stored is not None else interpretation}, not {dtype}"
            )
    parts = []
    if missing:
        parts.append(f"missing branches {missing[:5]}" + (" ..." if len(missing) > 5 else ""))
    if wrong:
        parts.append(
            "wrong branch types: " + "; ".join(wrong[:5]) + (" ..." if len(wrong) > 5 else "")
        )
    return ", ".join(parts)


def _declared(file: Any) -> dict[str, Any]:
    """The belleflow metadata of an open file ({} if absent or unreadable)."""
    if METADATA_NAME not in file:
        return {}
    try:
        meta = json.loads(str(file[METADATA_NAME]))
    except (ValueError, TypeError, AttributeError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _production_sample(meta: dict[str, Any], generator: dict[str, Any]) -> str | None:
    """The sample a file of belleflow's production belongs to (None for other files).

    Only the production (``production_version`` in its generator record)
    names samples as the catalogue does; an imported file's name is a
    default the catalogue may not share.
    """
    sample = meta.get("sample")
    return sample if isinstance(sample, str) and "production_version" in generator else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def inspect_file(path: str, *, timeout: int = 60) -> FileInfo:
    """Cheap header check of one file (no basket is decompressed).

    Checks that the file exists and opens, holds a non-empty event tree
    whose branches have the format's names and types, is not truncated
    (local files: size on disk against the ROOT header), and that the
    tree's entries agree with the belleflow metadata when present; records
    the file's content identity and what its metadata declares.

    Returns:
        The :class:`FileInfo`; ``error`` names the problem.
    """
    if not is_url(path) and not Path(path).is_file():
        return FileInfo(path, None, error="file not found")
    try:
        with uproot.open(path, timeout=timeout) as file:
            header = file.file.source.chunk(0, min(IDENTITY_BYTES, file.file.fEND)).raw_data
            identity = hashlib.sha256(f"{file.file.fEND}:".encode() + bytes(header)).hexdigest()
            meta = _declared(file)
            generator = meta.get("generator")
            if not isinstance(generator, dict):
                generator = {}
            info = FileInfo(
                path,
                None,
                uuid=bytes(file.file.fUUID).hex(),
                identity=identity[:32],
                sample=_production_sample(meta, generator),
                kind=meta.get("kind") if meta.get("kind") in {"data", "simulation"} else None,
                index=_int_or_none(generator.get("index")),
                n_files=_int_or_none(generator.get("n_files")),
            )
            if not is_url(path):
                size = Path(path).stat().st_size
                if size < file.file.fEND:
                    msg = f"truncated: {size} bytes on disk, the ROOT header says {file.file.fEND}"
                    return dataclasses.replace(info, error=msg)
            if TREE_NAME not in file:
                return dataclasses.replace(info, error=f"no TTree {TREE_NAME!r}")
            tree = file[TREE_NAME]
            entries = int(tree.num_entries)
            info = dataclasses.replace(info, entries=entries)
            declared = meta.get("n_events")
            if declared is not None and declared != entries:
                msg = f"tree has {entries} entries, its metadata says {declared}"
                return dataclasses.replace(info, error=msg)
            if entries == 0:
                return dataclasses.replace(
                    info, error=f"empty: the {TREE_NAME!r} tree has no entries"
                )
            simulation = info.kind == "simulation" if info.kind else "nMCParticle" in tree
            problems = branch_problems(tree, simulation=simulation)
            if problems:
                return dataclasses.replace(info, error=f"not the belleflow format: {problems}")
    except Exception as err:  # noqa: BLE001 - any failure to open is reported with the file
        return FileInfo(path, None, error=f"cannot be opened ({type(err).__name__}: {err})")
    return info


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
            entries, facts = known[key]
            out[path] = FileInfo(path, entries, **facts, cached=True)
        else:
            todo.append(path)
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(todo)))) as pool:
            checked = list(pool.map(lambda p: inspect_file(p, timeout=timeout), todo))
        out.update({info.path: info for info in checked})
        if cache is not None:
            cache.put_many(
                (key, info.entries, info.facts())
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
class SampleAccount:
    """The events one sample must deliver, and what stands in the way.

    Attributes:
        sample: Sample name.
        expected: Events the sample should have: the catalogue's ``events``
            (at its scale) for simulation and signals, the sum of its files'
            entries for data; None when a data file of unknown size was lost.
        source: ``catalogue`` or ``files``: where ``expected`` comes from.
        planned: Events of the files that will be processed.
        problems: What makes ``planned`` differ from ``expected`` or the
            files differ from the production (missing, duplicate, extra files).
    """

    sample: str
    expected: int | None
    source: str
    planned: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class RunPlan:
    """Everything decided before a channel's run starts.

    Attributes:
        channel: Channel name.
        samples: The samples, by name.
        files: Header-check result by path (files refused by the accounting
            carry the reason in ``error``).
        accounts: Per-sample accounting, by name.
        bad_files: Files (or patterns) excluded, with the events lost.
        work_items: The chunks to process.
        expected: Entries by path of the files that will be processed.
        skipped_chunks: Entry ranges of good files not processed (``maxchunks``), by path.
        planning_seconds: Time spent planning.
    """

    channel: str
    samples: dict[str, SamplePlan]
    files: dict[str, FileInfo]
    accounts: dict[str, SampleAccount] = field(default_factory=dict)
    bad_files: list[BadFile] = field(default_factory=list)
    work_items: list[WorkItem] = field(default_factory=list)
    expected: dict[str, int] = field(default_factory=dict)
    skipped_chunks: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    planning_seconds: float = 0.0

    @property
    def skipped_by_choice(self) -> dict[str, int]:
        """Events of good files not processed (``maxchunks``), by path."""
        return {
            path: sum(stop - start for start, stop in ranges)
            for path, ranges in self.skipped_chunks.items()
        }

    @property
    def sample_of_file(self) -> dict[str, str]:
        """Sample name by file path."""
        return {path: s.name for s in self.samples.values() for path in s.files}

    @property
    def expected_events(self) -> int:
        """Events all samples should deliver (samples of unknown size count what is known)."""
        return sum(
            a.expected if a.expected is not None else a.planned for a in self.accounts.values()
        )

    @property
    def unknown_samples(self) -> list[str]:
        """Samples whose expected events are unknown (a lost data file of unknown size)."""
        return [a.sample for a in self.accounts.values() if a.expected is None]


def _chunk_bounds(entries: int, chunksize: int) -> list[tuple[int, int]]:
    """coffea's chunking: equal chunks of at most about ``chunksize`` entries."""
    if entries <= 0:
        return []
    n = max(round(entries / chunksize), 1)
    size = math.ceil(entries / n)
    return [(start, min(entries, start + size)) for start in range(0, entries, size)]


def _spread(n: int) -> list[int]:
    """``0..n-1`` in an order whose every start is spread over the range (van der Corput).

    Examples:
        >>> _spread(8)
        [0, 4, 2, 6, 1, 5, 3, 7]
        >>> _spread(5)
        [0, 4, 2, 1, 3]
    """
    bits = max(n - 1, 1).bit_length()
    order = sorted(range(2**bits), key=lambda i: int(f"{i:0{bits}b}"[::-1], 2))
    return [i for i in order if i < n]


def quick_look_group(sample: SamplePlan) -> str:
    """Which group of a ``--maxchunks`` quick look a sample is in: data, a background, a model."""
    if sample.kind == "data":
        return "data"
    if sample.kind == "signal":
        return f"signal {sample.model or sample.process}"
    return f"background {sample.process}"


def _quick_look(
    chunks: Mapping[str, list[WorkItem]], groups: Mapping[str, str], maxchunks: int
) -> list[WorkItem]:
    """At most ``maxchunks`` chunks, taken in turn from each group, then from its samples.

    Groups come in their first sample's order (data, backgrounds, signal models
    in the catalogue); within a group the samples are visited in
    :func:`_spread` order, so that the first chunks of a signal grid span its
    masses, and each sample gives its chunks in file order.
    """
    members: dict[str, list[str]] = {}
    for name in chunks:
        members.setdefault(groups[name], []).append(name)
    queues = []
    for names in members.values():
        visit = [names[i] for i in _spread(len(names))]
        rounds = max(len(chunks[n]) for n in names)
        queues.append([chunks[n][r] for r in range(rounds) for n in visit if r < len(chunks[n])])
    depth = max((len(q) for q in queues), default=0)
    taken = [q[r] for r in range(depth) for q in queues if r < len(q)]
    return taken[:maxchunks]


def build_work_items(
    samples: Mapping[str, SamplePlan],
    files: Mapping[str, FileInfo],
    *,
    chunksize: int,
    maxchunks: int | None = None,
    unblind: bool = False,
) -> tuple[list[WorkItem], dict[str, list[tuple[int, int]]]]:
    """The chunks of good files, and the chunks ``maxchunks`` leaves out.

    ``maxchunks`` (a quick look) keeps at most that many chunks for the
    whole channel, spread so that data, every background process and every
    signal model are touched before any gets a second chunk
    (:func:`quick_look_group`): with at least as many chunks as groups each
    is read, and a signal grid is sampled across its masses.

    Args:
        samples: Samples with their files.
        files: Header-check results (bad files are left out).
        chunksize: Target entries per chunk.
        maxchunks: At most this many chunks in all (quick looks).
        unblind: Passed to the processors through the metadata.

    Returns:
        The work items (in sample order), and by path the entry ranges not
        processed because of ``maxchunks``.
    """
    by_sample: dict[str, list[WorkItem]] = {}
    for sample in samples.values():
        meta = sample.usermeta(unblind=unblind)
        chunks = by_sample.setdefault(sample.name, [])
        for path in sample.files:
            info = files[path]
            if not info.ok or info.entries is None:
                continue
            fileuuid = bytes.fromhex(info.uuid) if info.uuid else b""
            chunks.extend(
                WorkItem(sample.name, path, TREE_NAME, start, stop, fileuuid, dict(meta))
                for start, stop in _chunk_bounds(info.entries, chunksize)
            )
    everything = [item for chunks in by_sample.values() for item in chunks]
    if maxchunks is None:
        return everything, {}
    groups = {name: quick_look_group(s) for name, s in samples.items()}
    kept = {id(item) for item in _quick_look(by_sample, groups, maxchunks)}
    left_out: dict[str, list[tuple[int, int]]] = {}
    for item in everything:
        if id(item) not in kept:
            left_out.setdefault(item.filename, []).append((item.entrystart, item.entrystop))
    return [item for item in everything if id(item) in kept], left_out


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

    The signal samples are the channel's own (``channel:`` in the catalogue),
    not the other signals of its skim.

    Args:
        catalogue: The loaded catalogue.
        channel: The channel.
        chunksize: Target entries per chunk.
        maxchunks: At most this many chunks in all (:func:`build_work_items`).
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
    # A skim lists the signals of all its channels; a channel reads only its own.
    views = [
        v
        for v in catalogue.skim(channel.skim)
        if v.experiment in channel.experiments and (v.kind != "signal" or v.channel == channel.name)
    ]
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
    _check_redaction(all_paths)
    infos = inspect_files(all_paths, cache=cache)
    accounts = _account(views, plans, infos)
    problems: list[str] = []
    for path in all_paths:
        info = infos[path]
        if not info.ok:
            owner = next(s.name for s in plans.values() if path in s.files)
            problems.append(f"sample {owner!r}: {path}: {info.error}")
            if _not_ours(info):
                # Not the sample's events: skipping them loses nothing.
                reason = f"{info.error} ({info.entries} events, not the sample's)"
                bad.append(BadFile(owner, path, reason, 0))
            else:
                bad.append(BadFile(owner, path, info.error, info.entries))
    problems += [f"sample {a.sample!r}: {p}" for a in accounts.values() for p in a.problems]
    if problems and not skip_bad_files:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        msg = f"channel {channel.name!r}: {problems[0]}{more}"
        raise BadFileError(redact(msg))
    items, left_out = build_work_items(
        plans, infos, chunksize=chunksize, maxchunks=maxchunks, unblind=unblind
    )
    expected = {p: int(i.entries) for p, i in infos.items() if i.ok and i.entries is not None}
    return RunPlan(
        channel=channel.name,
        samples=plans,
        files=infos,
        accounts=accounts,
        bad_files=bad,
        work_items=items,
        expected=expected,
        skipped_chunks=left_out,
        planning_seconds=time.perf_counter() - tic,
    )


def _check_redaction(paths: Sequence[str]) -> None:
    """Two files that differ only in their secrets could not be told apart in the report."""
    seen: dict[str, str] = {}
    for path in paths:
        shown = redact(path)
        if seen.setdefault(shown, path) != path:
            msg = f"two files differ only in their query string or user info: {shown}"
            raise CatalogueError(msg)


def _account(
    views: Sequence[SampleView], plans: Mapping[str, SamplePlan], infos: dict[str, FileInfo]
) -> dict[str, SampleAccount]:
    """Per-sample accounting; files refused here get their reason in ``infos`` (in place).

    A file is refused when its content was seen before (a duplicate, under
    any name, in any sample), when its metadata names another sample or the
    other kind (an extra file). A sample is short of files when its files'
    metadata number them ``0..n_files-1`` and some are absent, and its
    events differ from the catalogue's (simulation and signals).
    """
    seen: dict[str, str] = {}
    accounts: dict[str, SampleAccount] = {}
    for view in views:
        plan = plans[view.name]
        for path in plan.files:
            info = infos[path]
            if info.entries is None and not info.identity:
                continue
            reason = ""
            if info.identity and info.identity in seen:
                reason = f"duplicate: the same file as {seen[info.identity]} (same size and header)"
            elif info.sample is not None and info.sample != view.name:
                reason = f"extra file: its metadata says it belongs to sample {info.sample!r}"
            elif info.kind is not None and (info.kind == "data") != (view.kind == "data"):
                reason = (
                    f"extra file: its metadata says it is {info.kind}, the sample is {view.kind}"
                )
            if info.identity:
                seen.setdefault(info.identity, path)
            if reason and info.ok:
                infos[path] = dataclasses.replace(info, error=reason)
        good = [infos[p] for p in plan.files if infos[p].ok]
        planned = sum(int(i.entries or 0) for i in good)
        account = SampleAccount(view.name, None, "files", planned)
        if view.kind == "data":
            lost = [infos[p] for p in plan.files if not infos[p].ok and not _not_ours(infos[p])]
            if all(i.entries is not None for i in lost):
                account.expected = planned + sum(int(i.entries or 0) for i in lost)
        else:
            account.source = "catalogue"
            account.expected = int(view.effective_events or 0)
            if planned != account.expected:
                account.problems.append(
                    f"its files hold {planned} events, the catalogue (which sets its weight) "
                    f"says {account.expected}"
                )
        declared = {i.n_files for i in good if i.n_files is not None}
        if len(declared) == 1:
            n_files = declared.pop()
            absent = sorted(set(range(n_files)) - {i.index for i in good if i.index is not None})
            if absent:
                account.problems.append(
                    f"missing files: the production wrote {n_files}, numbers {absent} are "
                    "not usable or not there"
                )
                if view.kind == "data":
                    account.expected = None
        if not plan.files and view.kind == "data":
            account.expected = None
        accounts[view.name] = account
    return accounts


def _not_ours(info: FileInfo) -> bool:
    """A refused file that is not part of its sample (its events are not the sample's)."""
    return info.error.startswith(("duplicate:", "extra file:"))


class BadFileError(RuntimeError):
    """A file cannot be processed; the message names it and the reason."""
