"""The read side: compression and basket size of the ntuples, chosen for reading a channel's columns.

Run from anywhere: ``python benchmarks/bench_io.py [--file F] [--channel C]
[--events N] [--repeat R] [--json FILE]``.

One large file made by the production (default: the 1,000,000-event
``mumumumu`` file of ``bench_throughput.py``'s large catalogue, generated if
missing) is rewritten with each writer setting of :data:`SETTINGS`
(compression and events per basket, with belleflow's own writer
:func:`belleflow.ntuple.write_ntuple`); then, interleaved in every repeat,
exactly the branches the channel reads (recorded with coffea's access log
on the first 20,000 events, :func:`bench_throughput.channel_columns`) are
read back with uproot in the engine's 100,000-event chunks. Printed:
events/s per core (CPU time, medians), the ratio to the production's
current setting, bytes per event of the file and of those branches, and
the writer's own rate. The files are in the page cache (written just
before): this measures decompression and deserialisation, the CPU cost of
reading, not the disk.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import awkward as ak
import uproot
from bench_throughput import channel_columns, large_catalogue

from belleflow.ntuple import COLLECTIONS, SIMULATION_ONLY, TREE_NAME, read_metadata, write_ntuple
from belleflow.ntuple.io import DEFAULT_BASKET_ENTRIES, DEFAULT_COMPRESSION

#: (compression, events per basket): the production's setting first.
SETTINGS = (
    (DEFAULT_COMPRESSION, DEFAULT_BASKET_ENTRIES),
    ("zstd:1", 25_000),
    ("zstd:1", 400_000),
    ("lz4:1", 100_000),
    ("lz4:1", 400_000),
    ("none", 100_000),
    ("none", 400_000),
)
#: The engine's chunk size (reads happen chunk by chunk).
CHUNK = 100_000


def read_rate(path: Path, branches: list[str], n_events: int) -> float:
    """Events per CPU second reading ``branches`` in :data:`CHUNK`-event chunks."""
    tic = time.process_time()
    with uproot.open(path) as file:
        tree = file[TREE_NAME]
        for start in range(0, n_events, CHUNK):
            tree.arrays(branches, entry_start=start, entry_stop=min(start + CHUNK, n_events))
    return n_events / (time.process_time() - tic)


def branch_bytes(path: Path, branches: list[str]) -> int:
    """Compressed bytes of ``branches`` (and their counters) in the file."""
    with uproot.open(path) as file:
        tree = file[TREE_NAME]
        return sum(int(tree[b].compressed_bytes) for b in branches)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", type=Path, default=None, help="a production file to rewrite")
    parser.add_argument("--channel", default="four_muon")
    parser.add_argument("--events", type=int, default=None, help="use the first N events")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved read repeats")
    parser.add_argument("--large-root", type=Path, default=Path("/tmp/bench-data"))
    parser.add_argument("--json", type=Path, default=Path("bench_io.json"))
    args = parser.parse_args()
    if args.file is None:
        root = args.large_root.resolve()
        large_catalogue(root)
        args.file = next((root / "mc" / "b2_mumumumu").glob("*.root"))
    meta = read_metadata(args.file)
    with uproot.open(args.file) as file:
        tree = file[TREE_NAME]
        n = min(tree.num_entries, args.events or tree.num_entries)
        events = tree.arrays(entry_stop=n, how=dict)
    content = _shaped(events, simulation=meta.kind == "simulation")
    meta = meta.model_copy(update={"n_events": n})
    with tempfile.TemporaryDirectory(prefix="bench-io-") as tmp:
        sample = Path(tmp) / "columns.root"
        write_ntuple(sample, {k: v[:20_000] for k, v in content.items()},
                     meta.model_copy(update={"n_events": min(n, 20_000)}))  # fmt: skip
        branches = channel_columns(args.channel, sample)
        print(f"{args.file.name}: {n:,} events; {args.channel} reads {len(branches)} branches: "
              f"{', '.join(branches)}", flush=True)  # fmt: skip
        files: dict[tuple[str, int], Path] = {}
        rows: dict[tuple[str, int], dict[str, Any]] = {}
        for compression, basket in SETTINGS:
            path = Path(tmp) / f"{compression.replace(':', '')}_{basket}.root"
            tic = time.process_time()
            write_ntuple(path, content, meta, compression=compression,
                         basket_entries=basket)  # fmt: skip
            write_s = time.process_time() - tic
            files[compression, basket] = path
            rows[compression, basket] = {
                "write_rate": n / write_s,
                "file_bytes_per_event": path.stat().st_size / n,
                "branch_bytes_per_event": branch_bytes(path, branches) / n,
                "read_rates": [],
            }
            print(f"  wrote {compression} / {basket:,}: {write_s:.0f} s", flush=True)
        for _ in range(args.repeat):
            for key, path in files.items():
                rows[key]["read_rates"].append(read_rate(path, branches, n))
    base = statistics.median(rows[SETTINGS[0]]["read_rates"])
    print(f"\nreading {args.channel}'s {len(branches)} branches of {n:,} events in "
          f"{CHUNK:,}-event chunks, CPU time, medians of {args.repeat} interleaved repeats; "
          f"load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print("| compression | events per basket | read (k events/s/core) | vs production "
          "| file (bytes/event) | read branches (bytes/event) | write (k events/s) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for (compression, basket), row in rows.items():
        rate = statistics.median(row["read_rates"])
        mark = " (production)" if (compression, basket) == SETTINGS[0] else ""
        print(f"| {compression}{mark} | {basket:,} | {rate / 1e3:.0f} | {rate / base:.2f} "
              f"| {row['file_bytes_per_event']:.0f} | {row['branch_bytes_per_event']:.0f} "
              f"| {row['write_rate'] / 1e3:.0f} |")  # fmt: skip
    out = {f"{c}/{b}": row for (c, b), row in rows.items()}
    args.json.write_text(json.dumps({"file": str(args.file), "events": n, "branches": branches,
                                     "settings": out}, indent=1))  # fmt: skip
    print(f"\nwrote {args.json}")


def _shaped(events: dict[str, Any], *, simulation: bool) -> dict[str, Any]:
    """The flat branches read back as the writer takes them: event branches and collections."""
    dropped = {c for c, v in SIMULATION_ONLY if v is None and not simulation}
    content: dict[str, Any] = {}
    for name, values in events.items():
        collection = name.partition("_")[0]
        if collection in COLLECTIONS and name.startswith(f"{collection}_"):
            if collection not in dropped:
                content.setdefault(collection, {})[name.partition("_")[2]] = values
        elif not (name.startswith("n") and name[1:] in COLLECTIONS):
            content[name] = values
    for collection in [c for c in content if c in COLLECTIONS]:
        content[collection] = ak.zip(content[collection], depth_limit=2)
    return content


if __name__ == "__main__":
    main()
