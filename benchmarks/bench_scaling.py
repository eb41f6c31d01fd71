"""1 -> 2 worker efficiency on a LocalCluster, and peak memory per worker against chunk size.

Run from anywhere: ``python benchmarks/bench_scaling.py [--channel C]
[--catalogue demo|large] [--repeat R] [--chunk-size N]
[--chunksizes 50000 100000 ...] [--skip efficiency|memory] [--json FILE]``.

1. **Efficiency.** The channel runs with ``run_channels`` (no outputs
   written) on the engine's LocalCluster (:func:`belleflow.engine.executors.local_cluster`,
   one single-threaded worker per process), once with 1 and once with 2
   workers, interleaved in every repeat; each cluster is started and warmed
   up (one run) before the timed run. The default run is the demo
   production's whole four_muon skim: several minutes of CPU. Efficiency =
   T(1 worker) / (2 x T(2 workers)), for the whole run (``run_channels``
   wall time: planning, processing, merging) and for the processing phase
   alone (the report's ``processing_s``). On a shared machine both workers
   rarely get a whole core: the load average is printed. ``--chunk-size``
   (default the engine's, 100,000 events) sets the chunks of both runs;
   the efficiency their granularity allows (:func:`granularity_cap`) is
   printed beside the measurement.
2. **Peak memory.** For each chunk size, a fresh Python process (a worker's
   situation: imports done, one chunk in flight) runs the channel's
   processor on one warm-up chunk of 2,000 events and then on one chunk of
   exactly that many events of the large file of its skim and experiment
   (:data:`LARGE_SAMPLE`, ``bench_throughput.py``'s large catalogue). Printed: peak RSS of the
   process (``ru_maxrss``), and its growth over the RSS after the warm-up
   chunk, i.e. what the chunk itself costs. A Dask worker holds about
   100-150 MiB more (distributed's own state).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_throughput import DEMO_CATALOGUE, events_of, large_catalogue

from belleflow.engine import DEFAULT_CHUNKSIZE

#: Chunk sizes of the memory measurement.
CHUNKSIZES = (50_000, 100_000, 200_000, 400_000)
#: The large file each skim's channels read, by skim and experiment
#: (bench_throughput.py's large catalogue).
LARGE_SAMPLE = {
    ("photons", "Belle II"): "b2_gg",
    ("lowmult", "Belle II"): "b2_mumumumu",
    ("lowmult", "Belle"): "b1_mumutautau",
}


def granularity_cap(costs: Sequence[float], workers: int) -> float:
    """The highest efficiency ``workers`` can reach on chunks of these costs.

    Each chunk, in plan order, goes to the first worker to be free (Dask's
    scheduler queues the chunk tasks and gives a worker the next as it
    finishes one; with distributed's default worker saturation, 1.1, a
    single-threaded worker holds one more waiting, which equal chunks do not
    change); the efficiency T(1) / (workers x T(workers)) is then the total
    cost over ``workers`` times the busiest worker's. For ``n`` equal chunks on two
    workers it is ``n / (2 ceil(n / 2))``: 100 % for an even ``n``, 92 % for
    11, 95 % for 21.

    Examples:
        >>> round(granularity_cap([1.0] * 11, 2), 3)
        0.917
        >>> granularity_cap([1.0] * 10, 2)
        1.0
        >>> round(granularity_cap([0.001] + [1.0] * 10, 2), 4)  # a token data chunk first
        0.9999
    """
    busy = [0.0] * workers
    for cost in costs:
        busy[busy.index(min(busy))] += cost
    return sum(costs) / (workers * max(busy))


def chunk_events(channel: str, catalogue: Path, chunksize: int) -> list[int]:
    """Events of each chunk the engine plans for ``channel``, in plan order."""
    from belleflow.catalogue import load_catalogue  # noqa: PLC0415
    from belleflow.channels import load_channel  # noqa: PLC0415
    from belleflow.engine.fileset import plan_channel  # noqa: PLC0415

    plan = plan_channel(load_catalogue(catalogue), load_channel(channel), chunksize=chunksize)
    return [item.entrystop - item.entrystart for item in plan.work_items]


def timed_run(channel: str, catalogue: Path, client: Any, chunksize: int) -> dict[str, Any]:
    """One ``run_channels`` on ``client``: wall time, processing time, events."""
    from belleflow.engine import run_channels  # noqa: PLC0415

    tic = time.perf_counter()
    result = run_channels(
        [channel],
        catalogue=catalogue,
        client=client,
        chunksize=chunksize,
        out=None,
        progress=False,
        echo=lambda _: None,
    )
    wall = time.perf_counter() - tic
    (report,) = result.reports.values()
    return {
        "wall_s": wall,
        "processing_s": float(report["timing"]["processing_s"]),
        "events": int(report["events"]["read"]),
    }


def efficiency(channel: str, catalogue: Path, repeat: int, chunksize: int) -> dict[str, Any]:
    """1- and 2-worker runs, interleaved; efficiencies of the medians and their cap."""
    from belleflow.engine.executors import local_cluster  # noqa: PLC0415

    distributed: Any = importlib.import_module("distributed")  # untyped

    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    load = []
    for i in range(repeat):
        for workers in (1, 2):
            with local_cluster(workers) as cluster, distributed.Client(cluster) as client:
                client.wait_for_workers(workers)
                timed_run(channel, catalogue, client, chunksize)  # warm-up
                load.append(os.getloadavg()[0])
                runs[workers].append(timed_run(channel, catalogue, client, chunksize))
            print(f"repeat {i + 1}: {workers} worker(s): {runs[workers][-1]['wall_s']:.0f} s "
                  f"(load {load[-1]:.1f})", flush=True)  # fmt: skip
    med = {w: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "processing_s")}
           for w, rs in runs.items()}  # fmt: skip
    # Chunk cost taken proportional to its events: the fixed cost per chunk
    # (about 0.07 s on the large file) is under 1 % of a 100,000-event chunk.
    sizes = chunk_events(channel, catalogue, chunksize)
    return {
        "events": runs[1][0]["events"],
        "chunksize": chunksize,
        "chunks": len(sizes),
        "granularity_cap": granularity_cap([float(n) for n in sizes], 2),
        "runs": runs,
        "medians": med,
        "efficiency_whole": med[1]["wall_s"] / (2 * med[2]["wall_s"]),
        "efficiency_processing": med[1]["processing_s"] / (2 * med[2]["processing_s"]),
        "load": load,
    }


def memory_worker(channel: str, path: str, events: int) -> dict[str, float]:
    """In a fresh process: RSS after a warm-up chunk, peak RSS after one chunk of ``events``."""
    from belleflow.beams import get_machine  # noqa: PLC0415
    from belleflow.channels import load_channel  # noqa: PLC0415

    spec = load_channel(channel)
    processor = spec.make_processor()
    experiment = spec.experiments[0]
    meta = {"dataset": "bench", "kind": "simulation", "process": "bench", "weight": 1.0,
            "experiment": experiment, "machine": get_machine(experiment).name,
            "unblind": False}  # fmt: skip

    def chunk(n: int) -> dict[str, Any]:
        return {"path": path, "start": 0, "stop": n, "meta": {**meta, "filename": path}}

    psutil: Any = importlib.import_module("psutil")  # no type information
    processor.process(events_of(chunk(2000)))
    before = float(psutil.Process().memory_info().rss)
    processor.process(events_of(chunk(events)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    return {"rss_after_warmup": before, "peak_rss": float(peak)}


def memory(channel: str, large_root: Path, chunksizes: list[int]) -> dict[int, dict[str, float]]:
    """Peak RSS per chunk size, each in a fresh process."""
    from belleflow.channels import load_channel  # noqa: PLC0415

    root = large_root.resolve()
    large_catalogue(root)
    spec = load_channel(channel)
    sample = LARGE_SAMPLE[spec.skim, spec.experiments[0]]
    path = str(next((root / "mc" / sample).glob("*.root")))
    out = {}
    for size in chunksizes:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--memory-worker", channel, path,
             str(size)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            msg = f"memory worker for {size} events failed: {done.stderr[-2000:]}"
            raise RuntimeError(msg)
        out[size] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"chunk of {size:,}: peak {out[size]['peak_rss'] / 2**20:.0f} MiB", flush=True)
    return out


def parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channel", default="four_muon")
    parser.add_argument("--catalogue", choices=["demo", "large"], default="demo")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNKSIZE,
                        help="events per chunk of the efficiency runs")  # fmt: skip
    parser.add_argument("--chunksizes", type=int, nargs="+", default=list(CHUNKSIZES))
    parser.add_argument("--skip", choices=["efficiency", "memory"], default=None)
    parser.add_argument("--large-root", type=Path, default=Path("/tmp/bench-data"))
    parser.add_argument("--json", type=Path, default=Path("bench_scaling.json"))
    parser.add_argument("--memory-worker", nargs=3, help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = parser().parse_args()
    if args.memory_worker:
        channel, path, size = args.memory_worker
        print(json.dumps(memory_worker(channel, path, int(size))))
        return

    out: dict[str, Any] = {"channel": args.channel}
    if args.skip != "efficiency":
        catalogue = (
            DEMO_CATALOGUE
            if args.catalogue == "demo"
            else large_catalogue(args.large_root.resolve())
        )
        out["efficiency"] = eff = efficiency(args.channel, catalogue, args.repeat, args.chunk_size)
        m = eff["medians"]
        print(f"\n### 1 -> 2 workers, {args.channel} on {args.catalogue} ({eff['events']:,} events), "
              f"medians of {args.repeat}, load average {min(eff['load']):.1f}-"
              f"{max(eff['load']):.1f} on {os.cpu_count()} cores; {eff['chunks']} chunks of "
              f"at most {eff['chunksize']:,} events: at most {eff['granularity_cap']:.2%} "
              "on 2 workers\n")  # fmt: skip
        print("| | 1 worker (s) | 2 workers (s) | efficiency |")
        print("|---|---|---|---|")
        print(f"| whole run | {m[1]['wall_s']:.1f} | {m[2]['wall_s']:.1f} "
              f"| {eff['efficiency_whole']:.0%} |")  # fmt: skip
        print(f"| processing phase | {m[1]['processing_s']:.1f} | {m[2]['processing_s']:.1f} "
              f"| {eff['efficiency_processing']:.0%} |")  # fmt: skip
    if args.skip != "memory":
        out["memory"] = mem = memory(args.channel, args.large_root, args.chunksizes)
        print(f"\n### peak memory of one {args.channel} chunk (fresh process)\n")
        print(
            "| chunk (events) | peak RSS (MiB) | of which the chunk (MiB) | per 1k events (MiB) |"
        )
        print("|---|---|---|---|")
        for size, row in mem.items():
            grow = (row["peak_rss"] - row["rss_after_warmup"]) / 2**20
            print(f"| {size:,} | {row['peak_rss'] / 2**20:.0f} | {grow:.0f} "
                  f"| {grow / size * 1e3:.2f} |")  # fmt: skip
    args.json.write_text(json.dumps(out, indent=1, default=str))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
