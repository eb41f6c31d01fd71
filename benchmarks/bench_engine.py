"""Benchmark of the run engine: overhead against the processor alone, planning, memory.

Run from anywhere: ``python benchmarks/bench_engine.py [--repeat 3] [--data DIR]``.

1. **Engine overhead.** Realistic files are produced first
   (``belleflow.generation.production.produce``: ``--files`` files of
   ``--events`` e+e- -> e+e-mu+mu- events, plus a small e+e- -> 4 mu file so
   that the histograms are filled; about 40 s, reused with ``--data``), and
   the ``four_muon`` channel runs on them (a dimuon selection if that channel
   does not import). Three ways of running the same processor on the same
   chunks (default chunk size), interleaved in every repeat:

   - *processor alone*: a plain single-process loop, per chunk ``uproot.open``
     + ``NanoEventsFactory.from_root(..., schemaclass=Belle2Schema,
     mode="virtual", entry_start, entry_stop)`` + ``processor.process(events)``;
     no engine, no merging. This is the processor's own time, reading included.
   - *iterative engine*: ``run_channels(executor="iterative")`` (planning,
     coffea Runner, guard, merging, finalising, report): engine bookkeeping
     without Dask.
   - *LocalCluster engine*: ``run_channels`` on the engine's LocalCluster
     (``belleflow.engine.executors.local_cluster``, N workers x 1 thread,
     started once and warmed up), wall time x N.

   Overhead = engine time / processor-alone time - 1 (goal: <= 10 %). Wall
   time x N assumes N free cores: on a shared machine other processes take
   some, which inflates it (the load average is printed). So the CPU time
   of all engine processes (client, scheduler, workers) against the
   processor's CPU time, and the workers' idle fraction (1 - task time /
   (wall x N): scheduling gaps, the last chunks' tail) are printed too.
   Also: the chunk size sweep (``--chunksizes``), the first run on a fresh
   cluster (worker warm-up), per-chunk output sizes (pickle + LZ4, what
   Dask ships) and JSON checkpoint cost.
2. **Planning** a catalogue of 10,000 files. Writing 10,000 real ntuples takes
   minutes, so this measures the *warm* path: 10,000 placeholder files whose
   entries are pre-loaded into the metadata cache (keyed by path, mtime and
   size, exactly as a previous planning would have left it). The cold path
   (header checks) is measured on a few hundred real files and scaled.
   Goal: <= 10 s.
3. **Peak worker memory** (RSS) during the default-chunk-size runs, from each
   worker's memory monitor.

Medians over ``--repeat`` repeats of one run are printed.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import hist
import lz4.frame
import numpy as np
import uproot
from coffea.nanoevents import NanoEventsFactory

from belleflow.catalogue import load_catalogue
from belleflow.engine import run_channels
from belleflow.engine.checkpoint import to_json
from belleflow.engine.executors import local_cluster
from belleflow.engine.fileset import FileMetadataCache, _cache_key, inspect_files, plan_channel
from belleflow.engine.runner import DEFAULT_CHUNKSIZE
from belleflow.ntuple import COLLECTIONS, FileMetadata, write_ntuple
from belleflow.processor import Channel, ChannelProcessor, ChunkContext
from belleflow.schema import Belle2Schema


class Dimuon(ChannelProcessor):
    """A typical light selection: muon pairs and their mass."""

    histograms = {"m_mumu": (hist.axis.Regular(100, 0.0, 12.0, name="m_mumu"),)}  # noqa: RUF012

    def process_chunk(self, events: Any, chunk: ChunkContext) -> None:
        muons = events.Track[events.Track.muonID > 0.5]
        chunk.cut("two_muons", ak.num(muons) >= 2)
        selected = muons[chunk.cutflow.selection]
        chunk.fill("m_mumu", m_mumu=(selected[:, 0] + selected[:, 1]).mass)


CHANNEL = Channel("bench", "benchmark dimuon", "lowmult", ("Belle II",), Dimuon)

CATALOGUE = """\
name: bench
data_root: .
data:
  - {{name: b2data, experiment: Belle II, machine: SuperKEKB, ecms: 10.58, luminosity: 1.0,
     luminosity_source: benchmark, files: ["{data}"]}}
simulation:
  - {{name: b2mumu, process: mumu, stands_for: [b2data], events: 1000000, files: ["{mc}"]}}
skims:
  - {{name: lowmult, processes: [mumu]}}
"""


def synthetic_events(n: int, seed: int) -> dict[str, Any]:
    """Events with every branch of the format (random but structurally valid)."""
    rng = np.random.default_rng(seed)
    content: dict[str, Any] = {
        "__experiment__": np.full(n, 26, np.int32),
        "__run__": np.ones(n, np.int32),
        "__event__": np.arange(n, dtype=np.uint32),
        "__production__": np.zeros(n, np.int32),
        "__weight__": np.ones(n),
        "Ecms": np.full(n, 10.58),
        "beamE": np.full(n, 11.0),
        "beamPx": np.full(n, 0.457),
        "beamPy": np.zeros(n),
        "beamPz": np.full(n, 3.0),
    }
    for name, spec in COLLECTIONS.items():
        counts = rng.integers(0, 5, n)
        total = int(counts.sum())
        columns = {}
        for branch in spec:
            if branch.dtype.startswith("int"):
                values = np.full(total, -1)
            else:
                values = rng.normal(size=total)
            columns[branch.name] = ak.unflatten(values.astype(branch.dtype), counts)
        columns["E"] = ak.unflatten(rng.uniform(2.0, 6.0, total), counts)
        content[name] = ak.zip(columns, depth_limit=2)
    return content


def write_files(folder: Path, kind: str, n_files: int, n_events: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    simulation = kind == "mc"
    for i in range(n_files):
        events = synthetic_events(n_events, seed=i)
        if not simulation:
            del events["MCParticle"]
        meta = FileMetadata(
            sample="bench",
            process="mumu" if simulation else "data",
            kind="simulation" if simulation else "data",
            experiment="Belle II",
            machine="SuperKEKB",
            ecms=10.58,
            n_events=n_events,
        )
        write_ntuple(folder / f"f{i:05d}.root", events, meta)


PRODUCTION = """\
name: bench-engine
data_root: {root}
scale: 1.0
data:
  - {{name: b2data, experiment: Belle II, machine: SuperKEKB, ecms: 10.58, luminosity: 1.0,
     luminosity_source: benchmark}}
simulation:
  - {{name: b2eemumu, process: eemumu, stands_for: [b2data], events: {bulk},
     events_per_file: {per_file}, files: ["mc/eemumu/*.root"]}}
  - {{name: b2mumumumu, process: mumumumu, stands_for: [b2data], events: {signal},
     events_per_file: {signal}, files: ["mc/mumumumu/*.root"]}}
skims:
  - {{name: lowmult, processes: [eemumu, mumumumu]}}
"""
SAMPLES = ["b2eemumu", "b2mumumumu"]


def realistic_channel() -> Channel:
    """The ``four_muon`` channel, or the dimuon benchmark channel if it does not import."""
    try:
        from belleflow.channels import load_channel  # noqa: PLC0415

        channel = load_channel("four_muon")
    except Exception as err:  # noqa: BLE001 - any import problem: fall back
        print(f"four_muon unavailable ({type(err).__name__}: {err}); using the dimuon channel")
        return CHANNEL
    return channel if isinstance(channel, Channel) else CHANNEL


def produce_files(root: Path, files: int, events: int, signal: int) -> Path:
    """Production-quality files (generators + detector simulation); existing ones are kept."""
    from belleflow.generation.production import produce  # noqa: PLC0415

    catalogue = root / "bench-engine.yaml"
    catalogue.write_text(
        PRODUCTION.format(root=root, bulk=files * events, per_file=events, signal=signal)
    )
    tic = time.perf_counter()
    report = produce(catalogue, samples="b2*mu", workers=os.cpu_count() or 1, progress=False)
    if report.written:
        print(f"produced {report.events_written:,} events in {time.perf_counter() - tic:.0f} s")
    return catalogue


def processor_alone(
    catalogue: Path, channel: Channel, chunksize: int, keep: list[Any] | None = None
) -> tuple[float, float, int]:
    """The plain loop (no engine): wall and CPU seconds, events."""
    plan = plan_channel(load_catalogue(catalogue), channel, chunksize=chunksize, samples=SAMPLES)
    processor = channel.make_processor()
    wall, cpu = time.perf_counter(), time.process_time()
    for item in plan.work_items:
        metadata = {
            "dataset": item.dataset,
            "filename": item.filename,
            "treename": item.treename,
            "entrystart": item.entrystart,
            "entrystop": item.entrystop,
            **item.usermeta,
        }
        with uproot.open({item.filename: None}) as file:
            events = NanoEventsFactory.from_root(
                file,
                treepath=item.treename,
                schemaclass=Belle2Schema,
                metadata=metadata,
                mode="virtual",
                entry_start=item.entrystart,
                entry_stop=item.entrystop,
            ).events()
            out = processor.process(events)
        if keep is not None:
            keep.append(out)
    events_total = sum(i.entrystop - i.entrystart for i in plan.work_items)
    return time.perf_counter() - wall, time.process_time() - cpu, events_total


def _cpu(client: Any) -> float:
    """CPU seconds of this process (client, scheduler) and of every worker."""
    return time.process_time() + sum(client.run(time.process_time).values())


def _timed_run(
    run: Callable[[], Any], client: Any | None = None
) -> tuple[float, float, float, Any]:
    """Wall, CPU (all engine processes) and summed task seconds of one engine run."""
    if client is None:
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        return time.perf_counter() - wall, time.process_time() - cpu, 0.0, result
    import distributed  # noqa: PLC0415

    cpu = _cpu(client)
    with distributed.get_task_stream(client) as stream:
        wall = time.perf_counter()
        result = run()
        wall = time.perf_counter() - wall
    cpu = _cpu(client) - cpu
    busy = sum(
        s["stop"] - s["start"]
        for task in stream.data
        for s in task["startstops"]
        if s["action"] == "compute"
    )
    return wall, cpu, busy, result


def bench_overhead(
    root: Path, files: int, events: int, signal: int, repeat: int, chunksizes: list[int]
) -> None:
    catalogue = produce_files(root, files, events, signal)
    channel = realistic_channel()
    workers = min(2, os.cpu_count() or 1)
    options: dict[str, Any] = {
        "catalogue": catalogue,
        "out": None,
        "progress": False,
        "echo": lambda _: None,
        "samples": SAMPLES,
    }
    print(f"channel {channel.name}; {files} x {events:,} e+e- -> eemumu + {signal:,} 4mu events")
    print(f"load average before: {os.getloadavg()}")

    # Output sizes and checkpoint cost, from the chunks of one plain pass.
    outputs: list[Any] = []
    processor_alone(catalogue, channel, DEFAULT_CHUNKSIZE, keep=outputs)
    shipped = [len(lz4.frame.compress(pickle.dumps(o), compression_level=1)) for o in outputs]
    tic = time.perf_counter()
    for out in outputs:
        to_json({"out": out})
    checkpoint_s = time.perf_counter() - tic
    del outputs

    import distributed  # noqa: PLC0415 - only this part needs Dask

    sizes = [DEFAULT_CHUNKSIZE, *(c for c in chunksizes if c != DEFAULT_CHUNKSIZE)]
    # rows[chunk size][way] = [(wall, cpu, task seconds), ...]
    rows: dict[int, dict[str, list[tuple[float, float, float]]]] = {c: {} for c in sizes}
    events_total = 0
    with local_cluster(workers) as cluster, distributed.Client(cluster) as client:
        warm = _timed_run(lambda: run_channels([channel], client=client, **options), client)
        for i in range(repeat):
            for size in sizes:
                row = rows[size]
                wall, cpu, events_total = processor_alone(catalogue, channel, size)
                row.setdefault("alone", []).append((wall, cpu, 0.0))
                if size == DEFAULT_CHUNKSIZE:
                    wall, cpu, _, _ = _timed_run(
                        lambda: run_channels([channel], executor="iterative", **options)
                    )
                    row.setdefault("iterative", []).append((wall, cpu, 0.0))
                wall, cpu, busy, _ = _timed_run(
                    lambda size=size: run_channels(
                        [channel], client=client, chunksize=size, **options
                    ),
                    client,
                )
                row.setdefault("local", []).append((wall, cpu, busy))
            print(f"  repeat {i + 1}/{repeat} done, load {os.getloadavg()[0]:.1f}", flush=True)

        # Peak RSS at the default chunk size: fresh workers (RSS never shrinks
        # back after a larger chunk), one run, each worker's memory monitor.
        client.restart()
        start = time.time()
        run_channels([channel], client=client, **options)
        window = (start, time.time())

        def peak(dask_worker: Any) -> float:
            q = dask_worker.monitor.quantities
            inside = [
                m
                for t, m in zip(q["time"], q["memory"], strict=False)
                if window[0] <= t <= window[1]
            ]
            return float(max(inside or q["memory"]))

        peak_rss = max(client.run(peak).values())
    print(f"\noverhead: {events_total:,} events, medians of {repeat} interleaved repeats")
    for size in sizes:
        _print_table(size, rows[size], workers, events_total)
    print(f"  peak worker RSS at chunk size {DEFAULT_CHUNKSIZE:,}: {peak_rss / 2**20:.0f} MiB")
    print(f"  first run on a fresh cluster (worker warm-up): {warm[0]:.2f} s wall")
    print(f"  per-chunk output shipped (pickle+lz4): max {max(shipped) / 1e3:.0f} kB, "
          f"total {sum(shipped) / 1e6:.2f} MB for {len(shipped)} chunks")  # fmt: skip
    alone_cpu = statistics.median(c for _, c, _ in rows[DEFAULT_CHUNKSIZE]["alone"])
    print(f"  JSON checkpoints of all chunks: {checkpoint_s:.2f} s "
          f"({100 * checkpoint_s / alone_cpu:.1f} % of the processor; only with --out)")  # fmt: skip
    print(f"load average after: {os.getloadavg()}")


def _print_table(
    size: int,
    rows: dict[str, list[tuple[float, float, float]]],
    workers: int,
    events: int,
) -> None:
    def med(name: str, index: int) -> float:
        return statistics.median(r[index] for r in rows[name])

    alone_wall, alone_cpu = med("alone", 0), med("alone", 1)
    print(f"chunk size {size:,}")
    header = ("way of running", "wall s", "time s", "overhead", "CPU s", "CPU ovh", "idle", "ev/s")
    print("  {:<24} {:>7} {:>7} {:>9} {:>7} {:>8} {:>6} {:>9}".format(*header))
    names = {
        "alone": "processor alone",
        "iterative": "iterative engine",
        "local": f"LocalCluster {workers}x1",
    }
    for name, runs in rows.items():
        n = workers if name == "local" else 1
        wall, cpu = med(name, 0), med(name, 1)
        busy = statistics.median(r[2] / (r[0] * n) for r in runs) if n > 1 else None
        overhead = "-" if name == "alone" else f"{100 * (wall * n / alone_wall - 1):+.1f} %"
        cpu_ovh = "-" if name == "alone" else f"{100 * (cpu / alone_cpu - 1):+.1f} %"
        idle = f"{100 * (1 - busy):.0f} %" if busy is not None else "-"
        print(f"  {names[name]:<24} {wall:>7.2f} {wall * n:>7.2f} {overhead:>9} {cpu:>7.2f} "
              f"{cpu_ovh:>8} {idle:>6} {events / wall:>9,.0f}")  # fmt: skip
    print(
        "  (time = wall x workers; overhead = time / processor-alone wall - 1;"
        " CPU = all engine processes; idle = 1 - task time / time)"
    )


def bench_planning(root: Path, n_files: int, repeat: int) -> None:
    folder = root / "many"
    folder.mkdir()
    paths = []
    for i in range(n_files):
        path = folder / f"f{i:05d}.root"
        path.touch()
        paths.append(str(path))
    cache = FileMetadataCache(root / "cache")
    # Warm path: the cache as a previous planning leaves it (see the module docstring).
    cache.put_many((_cache_key(p) or p, 50_000, "00" * 16) for p in paths)
    catalogue = root / "many.yaml"
    catalogue.write_text(CATALOGUE.format(data=folder / "f0000*.root", mc=folder / "*.root"))
    cat = load_catalogue(catalogue)
    times = []
    for _ in range(repeat):
        tic = time.perf_counter()
        plan = plan_channel(cat, CHANNEL, chunksize=100_000, cache=cache)
        times.append(time.perf_counter() - tic)
    print(f"planning: {len(plan.files)} files, {len(plan.work_items)} chunks (warm cache)")
    print(f"  median planning time:   {statistics.median(times):.2f} s")

    # Cold path on real files: header checks, 16 threads.
    real = root / "real"
    write_files(real, "mc", 200, 100)
    cold = [str(p) for p in sorted(real.glob("*.root"))]
    tic = time.perf_counter()
    inspect_files(cold, cache=None)
    per_file = (time.perf_counter() - tic) / len(cold)
    print(f"  cold header check:      {1000 * per_file:.1f} ms/file "
          f"(10,000 files ~ {per_file * 10_000:.0f} s once, then cached)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400_000, help="events per e+e-mu+mu- file")
    parser.add_argument("--files", type=int, default=3, help="e+e-mu+mu- files")
    parser.add_argument("--signal", type=int, default=2_000, help="events of the 4mu file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--chunksizes", default="100000,200000,500000", help="LocalCluster chunk sizes to compare"
    )
    parser.add_argument("--data", type=Path, help="keep the produced files here (reused)")
    parser.add_argument("--planning-files", type=int, default=10_000)
    parser.add_argument("--skip-planning", action="store_true")
    args = parser.parse_args()
    chunksizes = [int(x) for x in args.chunksizes.split(",") if x]
    with tempfile.TemporaryDirectory(prefix="belleflow-bench-") as tmp:
        os.environ["BELLEFLOW_CACHE"] = str(Path(tmp) / "cache")
        data = args.data.resolve() if args.data else Path(tmp) / "data"
        data.mkdir(parents=True, exist_ok=True)
        bench_overhead(data, args.files, args.events, args.signal, args.repeat, chunksizes)
        if not args.skip_planning:
            bench_planning(Path(tmp), args.planning_files, args.repeat)


if __name__ == "__main__":
    main()
