"""Synthetic production: every file a catalogue expects, generated in parallel.

:func:`produce` plans the files of a catalogue (:func:`plan_production`) and
makes them:

* simulation samples: ``effective_events`` split into files of
  ``events_per_file`` (the last one shorter), MC truth kept;
* signal samples: one file per grid point with ``events_per_point`` events;
* data samples: pseudo-data (:mod:`belleflow.generation.pseudodata`), split
  into files of at most ``data_events_per_file`` events.

File names follow the catalogue's file pattern (default ``mc/{name}/*.root``,
``data/{name}/*.root``, ``signal/{name}/{point}.root``, relative to
``data_root``): the ``*`` of a pattern becomes ``{sample}_{index:05d}``, so
``mc/belle2_4S_mumu/belle2_4S_mumu_00000.root``; a pattern without wildcard
is the file itself (one file only).

Each file's random stream is ``np.random.SeedSequence([seed, hash(sample),
index])``: the same seed gives identical files whatever the number of
workers or the order they run in. A file that exists, passes
:func:`~belleflow.ntuple.check_file` and records the same generator settings
is skipped; any other file (missing, truncated, from other settings) is
(re)written, atomically by :func:`~belleflow.ntuple.write_ntuple`.
"""

from __future__ import annotations

import concurrent.futures
import fnmatch
import hashlib
import json
import math
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from belleflow.generation.detector import detector_for, simulate
from belleflow.generation.pseudodata import (
    SIGNAL_COMPONENT,
    Component,
    InjectedSignal,
    draw_counts,
    expected_composition,
    generate_mixture,
    split_counts,
)
from belleflow.generation.truth import (
    EventGenerator,
    GeneratorContext,
    TruthEvents,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_DATA_EVENTS_PER_FILE",
    "PRODUCTION_VERSION",
    "FileJob",
    "FileResult",
    "ProductionError",
    "ProductionReport",
    "file_path",
    "load_generators",
    "plan_production",
    "produce",
    "run_job",
]

#: Version of the production recipe (generators + detector). It is part of
#: the settings compared when deciding to skip a file: bump it when the
#: simulation changes so that old files are regenerated.
PRODUCTION_VERSION = 1
#: Events generated and simulated at once (bounds the memory of the detector step).
DEFAULT_CHUNK_SIZE = 100_000
#: Largest pseudo-data file.
DEFAULT_DATA_EVENTS_PER_FILE = 1_000_000
_GLOB_CHARS = frozenset("*?[")
#: File index of the random stream that draws a pseudo-data sample's counts.
_COUNTS_INDEX = 2**32 - 1


class ProductionError(ValueError):
    """A production cannot be planned or a file cannot be made; the message says which."""


def load_generators() -> dict[str, EventGenerator]:
    """Every registered generator: belleflow's own (background processes and
    signal models) and any a caller registered, e.g. in tests."""
    from belleflow.generation.registry import load_generators as load_all  # noqa: PLC0415

    return load_all()


# ----------------------------------------------------------------------------
# Plan.
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FileJob:
    """One file to make.

    Attributes:
        sample: Sample (or signal point) name.
        kind: ``simulation``, ``signal`` or ``data``.
        process: Process, signal model, or ``data``.
        path: Destination file.
        index: Index of the file within the sample.
        n_files: Number of files of the sample.
        n_events: Events in the file.
        first_event: Position of the file's first event within the sample.
        sample_events: Events in the whole sample.
        machine: Collider name.
        ecms: Centre-of-mass energy, GeV.
        experiments: Experiment numbers events are spread over (data).
        components: What to generate: one component for simulation and
            signals, the processes (and injected signal) for data.
        entropy: Seed-sequence entropy of the file.
        settings: Generator settings recorded in the metadata and compared
            when deciding to skip an existing file.
        chunk_size: Events generated and simulated at once.
    """

    sample: str
    kind: Literal["simulation", "signal", "data"]
    process: str
    path: Path
    index: int
    n_files: int
    n_events: int
    first_event: int
    sample_events: int
    machine: str
    ecms: float
    experiments: tuple[int, ...]
    components: tuple[Component, ...]
    entropy: tuple[int, ...]
    settings: dict[str, Any]
    chunk_size: int = DEFAULT_CHUNK_SIZE


@dataclass(frozen=True)
class FileResult:
    """What happened to one file.

    Attributes:
        path: The file.
        sample: Its sample.
        kind: ``simulation``, ``signal`` or ``data``.
        status: ``written`` or ``skipped`` (complete, same settings).
        n_events: Events in the file.
        seconds: Time spent making it (0 when skipped).
        size: Bytes on disk.
    """

    path: Path
    sample: str
    kind: str
    status: Literal["written", "skipped"]
    n_events: int
    seconds: float
    size: int


@dataclass
class ProductionReport:
    """Outcome of :func:`produce`.

    Attributes:
        files: One result per planned file.
        seconds: Wall-clock time of the whole production.
        data_root: Folder the relative file patterns start from.
        workers: Worker processes used.
        missing_generators: Per data sample, background processes without a
            generator (left out of its pseudo-data).
    """

    files: list[FileResult]
    seconds: float
    data_root: Path
    workers: int
    missing_generators: dict[str, list[str]] = field(default_factory=dict)

    @property
    def written(self) -> list[FileResult]:
        """Files written by this run."""
        return [f for f in self.files if f.status == "written"]

    @property
    def skipped(self) -> list[FileResult]:
        """Files found complete and kept."""
        return [f for f in self.files if f.status == "skipped"]

    @property
    def events_written(self) -> int:
        """Events generated by this run."""
        return sum(f.n_events for f in self.written)

    @property
    def rate(self) -> float:
        """Events generated per second of wall-clock time."""
        return self.events_written / self.seconds if self.seconds > 0 else 0.0

    @property
    def size(self) -> int:
        """Bytes on disk of all planned files."""
        return sum(f.size for f in self.files)

    def by_sample(self) -> list[dict[str, Any]]:
        """Per-sample totals: files written and skipped, events, seconds, bytes."""
        rows: dict[str, dict[str, Any]] = {}
        for f in self.files:
            row = rows.setdefault(
                f.sample,
                {
                    "sample": f.sample,
                    "kind": f.kind,
                    "written": 0,
                    "skipped": 0,
                    "events": 0,
                    "seconds": 0.0,
                    "size": 0,
                },
            )
            row[f.status] += 1
            row["events"] += f.n_events
            row["seconds"] += f.seconds
            row["size"] += f.size
        return list(rows.values())


def _name_words(text: str) -> list[int]:
    """A stable 128-bit hash of a name as four 32-bit words (SeedSequence entropy)."""
    digest = hashlib.sha256(text.encode()).digest()[:16]
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def _entropy(seed: int, sample: str, index: int) -> tuple[int, ...]:
    return (int(seed), *_name_words(sample), int(index))


def file_path(catalogue: Any, view: Any, index: int, n_files: int, data_root: Path) -> Path:
    """Where file ``index`` of a sample goes, from its first file pattern.

    The rule: relative patterns start at ``data_root``; a ``*`` in the file
    name becomes ``{sample}_{index:05d}``; a pattern without wildcard is
    the file itself and allows one file only.

    Raises:
        ProductionError: For URLs, wildcards in folder names, other glob
            characters, or several files for a fixed name.
    """
    pattern = view.files[0]
    where = f"{_where(catalogue)}: {view.entry}: files: {pattern!r}"
    if "://" in pattern:
        msg = f"{where}: cannot produce into a URL; use a local pattern or --data-root"
        raise ProductionError(msg)
    path = Path(pattern).expanduser()
    if not path.is_absolute():
        path = data_root / path
    if _GLOB_CHARS & set(str(path.parent)) or set("?[") & set(path.name):
        msg = f"{where}: production supports a single '*' in the file name only"
        raise ProductionError(msg)
    if "*" in path.name:
        if path.name.count("*") > 1:
            msg = f"{where}: production supports a single '*' in the file name only"
            raise ProductionError(msg)
        return path.with_name(path.name.replace("*", f"{view.name}_{index:05d}"))
    if n_files > 1:
        msg = f"{where}: {n_files} files to write but the pattern names a single file"
        raise ProductionError(msg)
    return path


def _where(catalogue: Any) -> str:
    source = getattr(catalogue, "source", None)
    return f"catalogue {source}" if source else f"catalogue {catalogue.name!r}"


def _split_sizes(total: int, per_file: int) -> list[int]:
    n_files = max(1, math.ceil(total / per_file))
    return [min(per_file, total - i * per_file) for i in range(n_files)]


def _json(value: Any) -> Any:
    """Normalise to what a JSON round trip gives (tuples -> lists, ...)."""
    return json.loads(json.dumps(value, sort_keys=True))


def _signal_parameters(catalogue: Any, model: str) -> dict[str, Any]:
    for view in catalogue.iter_samples("signal"):
        if view.process == model:
            return dict(view.parameters)
    return {}


def plan_production(
    catalogue: Any,
    *,
    samples: str | None = None,
    seed: int = 0,
    data_root: Path | None = None,
    inject: InjectedSignal | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    data_events_per_file: int = DEFAULT_DATA_EVENTS_PER_FILE,
    generators: Mapping[str, EventGenerator] | None = None,
) -> tuple[list[FileJob], dict[str, list[str]]]:
    """The files a catalogue expects, as jobs.

    Args:
        catalogue: A loaded :class:`belleflow.catalogue.Catalogue` (at the wanted scale).
        samples: Glob on sample names (signal points also match their
            signal sample's name); None for all.
        seed: Production seed.
        data_root: Folder of relative file patterns (default the catalogue's).
        inject: Signal injected into every selected data sample.
        chunk_size: Events generated and simulated at once.
        data_events_per_file: Largest pseudo-data file.
        generators: Generator registry (default :func:`load_generators`).

    Returns:
        The jobs, and per data sample the processes without a generator.

    Raises:
        ProductionError: For a glob matching no sample, a simulation or
            signal sample whose process has no generator (naming both), or
            file patterns production cannot fill.
    """
    registry = dict(generators) if generators is not None else load_generators()
    root = Path(data_root) if data_root is not None else Path(catalogue.data_root)
    views = [
        v
        for v in catalogue.iter_samples()
        if samples is None
        or fnmatch.fnmatchcase(v.name, samples)
        or fnmatch.fnmatchcase(v.parent, samples)
    ]
    if not views:
        names = [v.name for v in catalogue.iter_samples()]
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        msg = f"{_where(catalogue)}: no sample matches {samples!r} (samples: {shown})"
        raise ProductionError(msg)
    if inject is not None and inject.model not in registry:
        msg = f"no generator for the injected signal model {inject.model!r}; registered: {sorted(registry)}"
        raise ProductionError(msg)

    jobs: list[FileJob] = []
    missing: dict[str, list[str]] = {}
    base = {"production_version": PRODUCTION_VERSION, "seed": int(seed), "chunk_size": chunk_size}
    for view in views:
        common = {
            **base,
            "sample": view.name,
            "kind": view.kind,
            "machine": view.machine,
            "ecms": view.ecms,
        }
        if view.kind in ("simulation", "signal"):
            if view.process not in registry:
                msg = (
                    f"{_where(catalogue)}: {view.entry}: no generator for process "
                    f"{view.process!r} of sample {view.name!r}; registered generators: "
                    f"{', '.join(sorted(registry)) or 'none'}"
                )
                raise ProductionError(msg)
            total = int(view.effective_events or 0)
            if view.kind == "signal":
                sizes = [total]
                parameters: dict[str, Any] = {
                    **view.parameters,
                    "mass": view.mass,
                    "ctau": view.ctau,
                }
                extra = {"model": view.process, "mass": view.mass, "ctau": view.ctau}
            else:
                sizes = _split_sizes(total, int(view.events_per_file or total))
                parameters = {}
                extra = {
                    "cross_section_fb": view.cross_section_fb,
                    "filter_efficiency": view.filter_efficiency,
                    "effective_luminosity_fb": view.effective_luminosity,
                }
            first = 0
            for index, size in enumerate(sizes):
                settings = {
                    **common,
                    **extra,
                    "process": view.process,
                    "index": index,
                    "n_files": len(sizes),
                    "n_events": size,
                    "parameters": parameters,
                }
                jobs.append(
                    FileJob(
                        sample=view.name,
                        kind=view.kind,
                        process=view.process,
                        path=file_path(catalogue, view, index, len(sizes), root),
                        index=index,
                        n_files=len(sizes),
                        n_events=size,
                        first_event=first,
                        sample_events=total,
                        machine=view.machine,
                        ecms=view.ecms,
                        experiments=(0,),  # run-independent MC (basf2 convention: exp 0)
                        components=(Component(view.process, view.process, size, parameters),),
                        entropy=_entropy(seed, view.name, index),
                        settings=_json(settings),
                        chunk_size=chunk_size,
                    )
                )
                first += size
            continue

        # Pseudo-data.
        expectations, absent = expected_composition(catalogue, view, registry)
        if absent:
            missing[view.name] = absent
        if not expectations:
            msg = (
                f"{_where(catalogue)}: {view.entry}: no background process has a generator, "
                f"cannot make pseudo-data for {view.name!r} (missing: {', '.join(absent)})"
            )
            raise ProductionError(msg)
        count_rng = np.random.default_rng(
            np.random.SeedSequence(_entropy(seed, view.name, _COUNTS_INDEX))
        )
        counts = draw_counts(
            expectations, count_rng, inject=inject, luminosity_fb=view.effective_luminosity
        )
        total = sum(counts.values())
        n_files = max(1, math.ceil(total / data_events_per_file))
        shares = split_counts(counts, n_files)
        signal_parameters: dict[str, Any] = {}
        if inject is not None:
            signal_parameters = {
                **_signal_parameters(catalogue, inject.model),
                **inject.parameters,
                "mass": inject.mass,
                "ctau": inject.ctau,
            }
        first = 0
        for index, share in enumerate(shares):
            size = sum(share.values())
            components = tuple(
                Component(name, inject.model, count, signal_parameters)
                if name == SIGNAL_COMPONENT and inject is not None
                else Component(name, name, count, {})
                for name, count in share.items()
            )
            settings = {
                **common,
                "process": "data",
                "index": index,
                "n_files": n_files,
                "n_events": size,
                "effective_luminosity_fb": view.effective_luminosity,
                "data_events_per_file": data_events_per_file,
                "experiments": list(view.experiments),
                "components": {
                    e.process: {
                        "events": share[e.process],
                        "sample_events": counts[e.process],
                        "expected": e.expected,
                        "cross_section_fb": e.cross_section_fb,
                        "filter_efficiency": e.filter_efficiency,
                    }
                    for e in expectations
                },
                "injected_signal": None
                if inject is None
                else {
                    **inject.to_dict(),
                    "parameters": signal_parameters,
                    "events_in_file": share[SIGNAL_COMPONENT],
                    "events_in_sample": counts[SIGNAL_COMPONENT],
                    "effective_luminosity_fb": view.effective_luminosity,
                },
            }
            jobs.append(
                FileJob(
                    sample=view.name,
                    kind="data",
                    process="data",
                    path=file_path(catalogue, view, index, n_files, root),
                    index=index,
                    n_files=n_files,
                    n_events=size,
                    first_event=first,
                    sample_events=total,
                    machine=view.machine,
                    ecms=view.ecms,
                    experiments=tuple(view.experiments) or (0,),
                    components=components,
                    entropy=_entropy(seed, view.name, index),
                    settings=_json(settings),
                    chunk_size=chunk_size,
                )
            )
            first += size
    paths = [j.path for j in jobs]
    if len(set(paths)) != len(paths):
        dup = next(p for p in paths if paths.count(p) > 1)
        msg = f"{_where(catalogue)}: two planned files share the path {dup}"
        raise ProductionError(msg)
    return jobs, missing


# ----------------------------------------------------------------------------
# Run one file.
# ----------------------------------------------------------------------------


def _complete(job: FileJob) -> bool:
    """True if the file exists, is valid and was made with the same settings."""
    from belleflow.ntuple import NtupleError, check_file  # noqa: PLC0415 - light import

    if not job.path.exists():
        return False
    try:
        metadata = check_file(job.path)
    except NtupleError:
        return False
    recorded = {k: metadata.generator.get(k) for k in job.settings}
    return bool(_json(recorded) == job.settings and metadata.n_events == job.n_events)


def _events_of(job: FileJob, start: int, n: int) -> tuple[Any, Any]:
    """Experiment and run numbers of events ``start .. start+n`` of a file."""
    if job.kind != "data":
        return 0, job.index + 1
    # Spread the sample's events evenly over its experiments, in order.
    position = job.first_event + start + np.arange(n)
    exps = np.asarray(job.experiments, dtype=np.int64)
    which = position * len(exps) // max(job.sample_events, 1)
    return exps[np.minimum(which, len(exps) - 1)], job.index + 1


def run_job(
    job: FileJob,
    report: Callable[[int], None] | None = None,
    generators: Mapping[str, EventGenerator] | None = None,
) -> FileResult:
    """Generate, simulate and write one file.

    Args:
        job: The file to make.
        report: Called with the number of events after each chunk.
        generators: Generator registry (default :func:`load_generators`).

    Returns:
        The result (status ``written``).

    Raises:
        ProductionError: Naming the file, if generation or writing fails.
    """
    from belleflow import __version__  # noqa: PLC0415 - avoid an import cycle
    from belleflow.beams import get_machine  # noqa: PLC0415
    from belleflow.ntuple import FileMetadata, NtupleWriter  # noqa: PLC0415

    started = time.perf_counter()
    registry = dict(generators) if generators is not None else load_generators()
    rng = np.random.default_rng(np.random.SeedSequence(list(job.entropy)))
    machine = get_machine(job.machine).scaled_to(job.ecms)
    simulation = job.kind != "data"
    production = job.settings["seed"] & 0x7FFFFFFF
    try:
        if simulation:
            comp = job.components[0]
            generator = registry[comp.generator]
            context = GeneratorContext(machine=machine, rng=rng, parameters=comp.parameters)

            def truths() -> Any:
                for start in range(0, job.n_events, job.chunk_size):
                    n = min(job.chunk_size, job.n_events - start)
                    truth = generator(n, context)
                    if len(truth) != n:
                        msg = (
                            f"generator {comp.generator!r} returned {len(truth)} events, asked {n}"
                        )
                        raise ProductionError(msg)
                    yield truth

            stream: Iterable[TruthEvents] = truths()
        else:
            missing = [c.generator for c in job.components if c.generator not in registry]
            if missing:
                msg = f"no generator for {missing}"
                raise ProductionError(msg)
            stream = generate_mixture(
                [c for c in job.components if c.count > 0],
                registry,
                machine,
                rng,
                chunk_size=job.chunk_size,
            )
        # Stream chunk by chunk: memory stays at one chunk whatever the file size.
        with NtupleWriter(job.path, simulation=simulation) as writer:
            start = 0
            for truth in stream:
                experiment, run = _events_of(job, start, len(truth))
                writer.extend(
                    simulate(
                        truth,
                        machine,
                        rng,
                        simulation=simulation,
                        experiment=experiment,
                        run=run,
                        first_event=start,
                        production=production,
                    )
                )
                start += len(truth)
                if report is not None:
                    report(len(truth))
            metadata = FileMetadata(
                sample=job.sample,
                process=job.process if job.kind != "signal" else _signal_label(job),
                kind="simulation" if simulation else "data",
                experiment=machine.experiment,  # type: ignore[arg-type]
                machine=machine.name,
                ecms=job.ecms,
                n_events=job.n_events,
                generator={
                    **job.settings,
                    "belleflow_version": __version__,
                    "detector": detector_for(machine).name,
                    "generator_seconds": round(time.perf_counter() - started, 3),
                },
            )
            writer.close(metadata)
    except ProductionError as err:
        msg = f"{job.path} (sample {job.sample!r}, file {job.index}): {err}"
        raise ProductionError(msg) from err
    except Exception as err:
        msg = f"{job.path} (sample {job.sample!r}, file {job.index}): {type(err).__name__}: {err}"
        raise ProductionError(msg) from err
    return FileResult(
        path=job.path,
        sample=job.sample,
        kind=job.kind,
        status="written",
        n_events=job.n_events,
        seconds=time.perf_counter() - started,
        size=job.path.stat().st_size,
    )


def _signal_label(job: FileJob) -> str:
    from belleflow.naming import signal_label  # noqa: PLC0415

    return signal_label(job.process, float(job.settings["mass"]), float(job.settings["ctau"]))


def _run_in_worker(
    job: FileJob, sink: Any, generators: Mapping[str, EventGenerator] | None
) -> FileResult:
    """Pool entry point: report progress through a manager queue."""

    def report(n: int) -> None:
        if sink is not None:
            sink.put(n)

    return run_job(job, report, generators)


# ----------------------------------------------------------------------------
# Produce.
# ----------------------------------------------------------------------------


def _load(catalogue: Any, data_root: str | os.PathLike[str] | None, scale: float | None) -> Any:
    from belleflow.catalogue import load_catalogue  # noqa: PLC0415

    if isinstance(catalogue, str | os.PathLike):
        catalogue = load_catalogue(catalogue, data_root=data_root)
    if scale is not None:
        if not 0 < scale <= 1:
            msg = f"scale must be in (0, 1], got {scale}"
            raise ProductionError(msg)
        catalogue = catalogue.model_copy(update={"scale": float(scale)})
    return catalogue


def _progress(enabled: bool) -> Any:
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=False,
    )


def produce(
    catalogue: Any,
    *,
    samples: str | None = None,
    scale: float | None = None,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    data_root: str | os.PathLike[str] | None = None,
    inject: InjectedSignal | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    data_events_per_file: int = DEFAULT_DATA_EVENTS_PER_FILE,
    generators: Mapping[str, EventGenerator] | None = None,
) -> ProductionReport:
    """Produce the files of a catalogue (or of the samples matching a glob).

    Args:
        catalogue: Path of a catalogue YAML file, or a loaded catalogue.
        samples: Glob on sample names (``belle2_*``); signal points also match
            their signal sample's name. None for all samples.
        scale: Override the catalogue's scale (fraction of luminosity and events).
        seed: Production seed; file seeds derive from (seed, sample, file index).
        workers: Worker processes (default: the number of cores); 1 runs in
            this process.
        progress: Show progress bars (files and events) on the terminal.
        data_root: Where relative file patterns start (overrides the catalogue).
        inject: Signal injected into the pseudo-data of every selected data sample.
        chunk_size: Events generated and simulated at once.
        data_events_per_file: Largest pseudo-data file.
        generators: Generators by process name, replacing the registry
            (:func:`load_generators`); with several workers they are pickled,
            so they must be importable module-level functions.

    Returns:
        What was written and skipped, with sizes and times.

    Raises:
        ProductionError: See :func:`plan_production`; a failing file names
            itself and its sample.
    """
    started = time.perf_counter()
    cat = _load(catalogue, data_root, scale)
    root = Path(data_root).expanduser().resolve() if data_root is not None else Path(cat.data_root)
    jobs, missing = plan_production(
        cat,
        samples=samples,
        seed=seed,
        data_root=root,
        inject=inject,
        chunk_size=chunk_size,
        data_events_per_file=data_events_per_file,
        generators=generators,
    )
    n_workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
    results: dict[int, FileResult] = {}
    todo: list[int] = []
    for i, job in enumerate(jobs):
        if _complete(job):
            results[i] = FileResult(
                job.path,
                job.sample,
                job.kind,
                "skipped",
                job.n_events,
                0.0,
                job.path.stat().st_size,
            )
        else:
            todo.append(i)

    with _progress(progress) as bar:
        files_task = bar.add_task("files", total=len(jobs), completed=len(results))
        events_task = bar.add_task(
            "events",
            total=sum(j.n_events for j in jobs),
            completed=sum(r.n_events for r in results.values()),
        )

        def advance(n: int) -> None:
            bar.advance(events_task, n)

        if n_workers == 1 or len(todo) <= 1:
            for i in todo:
                results[i] = run_job(jobs[i], advance, generators)
                bar.advance(files_task)
        else:
            results.update(
                _run_pool(jobs, todo, n_workers, progress, bar, files_task, advance, generators)
            )

    return ProductionReport(
        files=[results[i] for i in range(len(jobs))],
        seconds=time.perf_counter() - started,
        data_root=root,
        workers=n_workers,
        missing_generators=missing,
    )


def _run_pool(
    jobs: list[FileJob],
    todo: list[int],
    n_workers: int,
    progress: bool,
    bar: Any,
    files_task: Any,
    advance: Callable[[int], None],
    generators: Mapping[str, EventGenerator] | None,
) -> dict[int, FileResult]:
    results: dict[int, FileResult] = {}
    manager = multiprocessing.Manager() if progress else None
    try:
        sink = manager.Queue() if manager is not None else None

        def drain() -> None:
            while sink is not None:
                try:
                    advance(sink.get_nowait())
                except queue.Empty:
                    return

        with concurrent.futures.ProcessPoolExecutor(max_workers=min(n_workers, len(todo))) as pool:
            futures = {pool.submit(_run_in_worker, jobs[i], sink, generators): i for i in todo}
            pending = set(futures)
            try:
                while pending:
                    done, pending = concurrent.futures.wait(
                        pending, timeout=0.2, return_when=concurrent.futures.FIRST_COMPLETED
                    )
                    drain()
                    for future in done:
                        results[futures[future]] = future.result()
                        bar.advance(files_task)
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
            drain()
    finally:
        if manager is not None:
            manager.shutdown()
    return results
