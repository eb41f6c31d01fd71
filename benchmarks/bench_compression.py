"""Choose the ntuple compression and basket size by measurement.

Writes the same synthetic events (continuum, tau pairs and muon pairs through
the detector simulation, i.e. realistic jagged content) with each candidate
compression and basket size, then reads every branch back. Prints medians
of write speed, read speed and size per event.

Run: ``python benchmarks/bench_compression.py [--events N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from belleflow.beams import get_machine
from belleflow.generation import GeneratorContext
from belleflow.generation.detector import simulate
from belleflow.generation.production import load_generators
from belleflow.ntuple import TREE_NAME, FileMetadata, write_ntuple

CANDIDATES = ["none", "lz4:1", "zstd:1", "zstd:3", "zstd:5", "zlib:1", "zlib:4", "lzma:1"]
BASKETS = [25_000, 100_000, 400_000]


def _events(n: int) -> dict[str, Any]:
    """A realistic mixture: a third each of uubar, tautau and mumu events."""
    machine = get_machine("SuperKEKB")
    generators = load_generators()
    parts = []
    for i, process in enumerate(("uubar", "tautau", "mumu")):
        rng = np.random.default_rng(i)
        truth = generators[process](n // 3, GeneratorContext(machine=machine, rng=rng))
        parts.append(simulate(truth, machine, rng))
    return {key: ak.concatenate([p[key] for p in parts]) for key in parts[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=150_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    events = _events(args.events)
    n = len(events["__event__"])
    meta = FileMetadata(
        sample="bench",
        process="mixture",
        kind="simulation",
        experiment="Belle II",
        machine="SuperKEKB",
        ecms=10.58,
        n_events=n,
    )
    print(f"{n} events; medians of {args.repeats} repeats")
    print(
        f"{'compression':>12} {'basket':>8} {'write kHz':>10} {'read kHz':>10} {'bytes/event':>12}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for compression in CANDIDATES:
            for basket in BASKETS if compression in {"zstd:3", "lz4:1"} else [100_000]:
                path = Path(tmp) / f"{compression.replace(':', '_')}_{basket}.root"
                writes, reads = [], []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    write_ntuple(path, events, meta, compression=compression, basket_entries=basket)
                    writes.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    with uproot.open(path) as file:
                        file[TREE_NAME].arrays(library="ak")
                    reads.append(time.perf_counter() - start)
                size = path.stat().st_size / n
                print(
                    f"{compression:>12} {basket:>8} {n / statistics.median(writes) / 1e3:>10.0f} "
                    f"{n / statistics.median(reads) / 1e3:>10.0f} {size:>12.0f}"
                )


if __name__ == "__main__":
    main()
