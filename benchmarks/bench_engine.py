"""Benchmark of the run engine: overhead, planning time, peak worker memory.

Run from anywhere: ``python benchmarks/bench_engine.py [--events N] [--repeat R]``.

1. Engine overhead on a Dask LocalCluster (one worker per core): the wall time
   of the processing phase times the number of workers, against the time the
   processor itself spends in ``process()`` (coffea's ``processtime``, which
   includes reading the columns it touches). Overhead = wall x workers /
   processor time - 1. Goal: <= 10 %.
2. Planning a catalogue of 10,000 files. Writing 10,000 real ntuples takes
   minutes, so this measures the *warm* path: 10,000 placeholder files whose
   entries are pre-loaded into the metadata cache (keyed by path, mtime and
   size, exactly as a previous planning would have left it). The cold path
   (header checks) is measured on a few hundred real files and scaled.
   Goal: <= 10 s.
3. Peak worker memory (RSS) at the default chunk size (100,000 events), from
   each worker's memory monitor.

Medians over ``--repeat`` runs are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import awkward as ak
import hist
import numpy as np

from belleflow.catalogue import load_catalogue
from belleflow.engine import run_channels
from belleflow.engine.fileset import FileMetadataCache, _cache_key, inspect_files, plan_channel
from belleflow.ntuple import COLLECTIONS, FileMetadata, write_ntuple
from belleflow.processor import Channel, ChannelProcessor, ChunkContext


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


def bench_overhead(root: Path, n_events: int, repeat: int) -> None:
    write_files(root / "data", "data", 2, n_events)
    write_files(root / "mc", "mc", 2, n_events)
    catalogue = root / "catalogue.yaml"
    catalogue.write_text(CATALOGUE.format(data=root / "data/*.root", mc=root / "mc/*.root"))
    import distributed  # noqa: PLC0415 - only this part needs Dask

    workers = os.cpu_count() or 1
    overheads, rates, peaks = [], [], []
    with (
        distributed.LocalCluster(n_workers=workers, threads_per_worker=1) as cluster,
        distributed.Client(cluster) as client,
    ):
        run_channels([CHANNEL], catalogue=catalogue, client=client, out=None, progress=False)
        for _ in range(repeat):
            result = run_channels(
                [CHANNEL], catalogue=catalogue, client=client, out=None, progress=False,
                echo=lambda _: None,
            )  # fmt: skip
            timing = result["bench"].report["timing"]
            wall, own = timing["processing_s"], timing["processor_s"]
            overheads.append(wall * workers / own - 1.0)
            rates.append(timing["events_per_s"])
        peaks = client.run(lambda dask_worker: max(dask_worker.monitor.quantities["memory"]))
    events = 4 * n_events
    print(f"overhead: {events} events, {workers} workers, chunksize 100000")
    print(f"  median engine overhead: {100 * statistics.median(overheads):.1f} %")
    print(f"  median throughput:      {statistics.median(rates):,.0f} events/s")
    print(f"  peak worker RSS:        {max(peaks.values()) / 2**20:.0f} MiB")


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
    parser.add_argument("--events", type=int, default=500_000, help="events per file (4 files)")
    parser.add_argument("--files", type=int, default=10_000, help="files for the planning test")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="belleflow-bench-") as tmp:
        os.environ["BELLEFLOW_CACHE"] = str(Path(tmp) / "cache")
        bench_planning(Path(tmp), args.files, args.repeat)
        bench_overhead(Path(tmp), args.events, args.repeat)


if __name__ == "__main__":
    main()
