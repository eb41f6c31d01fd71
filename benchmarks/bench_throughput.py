"""Events per second per core of every channel, against reading exactly its columns.

Run from anywhere: ``python benchmarks/bench_throughput.py [--channels A B]
[--datasets demo large] [--repeat R] [--steady-chunks N] [--large-chunks N]
[--json FILE]``. Prints a markdown table and writes JSON (default
``bench_throughput.json`` in the current folder).

For every channel and dataset, interleaved within each repeat:

- **whole process**: ``belleflow run CHANNEL --executor iterative`` as a
  subprocess (interpreter start, imports, planning, every chunk, merging,
  writing the outputs); CPU time of the child (user + system, from
  ``getrusage``) and the events it read (its ``report.json``).
- **steady state**: the channel's processor in this process on the chunks
  the engine plans (default chunk size), after one warm-up chunk (imports,
  classifier loading), CPU time of ``processor.process`` summed over the
  chunks (reading the columns included, as coffea's ``processtime``). With
  many chunks, every k-th chunk (at most ``--steady-chunks``) is timed, which
  keeps the distribution of chunk sizes.
- **I/O only**: uproot reading exactly the columns the whole-process run
  read (``report.json``'s ``timing.columns_read``, recorded by coffea's
  access log) over the same chunks, as awkward arrays.

Ratios: whole process / I/O only and steady state / I/O only (CPU time for
the same events; the issue's targets: whole process <= 1.5). Also the fixed
cost per chunk: the median CPU of the 2,000-event chunks (the demo's signal
files) and the intercept of a straight-line fit of CPU against chunk size.

Datasets: ``demo`` is the demo production (``datasets/demo.yaml``, data in
``~/.cache/belleflow/demo-data`` or ``--demo-root``: every sample of the
channel's skim); ``large`` is one file of 1,000,000 events per skim made by
the production per skim and experiment (``belleflow generate`` of
:data:`LARGE_CATALOGUE`: Belle II ``mumumumu`` for the low-multiplicity
skim, Belle II ``gg`` for the photon skim, Belle ``mumutautau`` for the
low-multiplicity skim of the two Belle channels), generated into
``--large-root`` (default ``/tmp/bench-data``) if missing (the ``gg`` file
in a minute, the ``mumutautau`` one in 8 minutes, the ``mumumumu`` one took
an hour of a shared machine), plus that catalogue's small token data file
of the experiment.

Timing on a shared machine: medians over ``--repeat`` repeats; the load
average is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import uproot
from coffea.nanoevents import NanoEventsFactory

from belleflow.catalogue import load_catalogue
from belleflow.channels import load_channel
from belleflow.engine.fileset import plan_channel
from belleflow.ntuple import TREE_NAME
from belleflow.schema import Belle2Schema
from belleflow.training.samples import open_sample

REPO = Path(__file__).resolve().parents[1]
DEMO_CATALOGUE = REPO / "datasets" / "demo.yaml"
CHANNELS = ("four_muon", "mumu_tautau", "tautau_phil", "dark_higgsstrahlung", "gamma_alp")
#: One large simulation file per skim and experiment, of a process the skim's
#: channels select from, and a token data sample per experiment (the catalogue
#: needs one; 1 nb^-1).
#:
#: - Belle II (SuperKEKB): four muons for the low-multiplicity channels
#:   (``four_muon``, ``mumu_tautau``: every event reaches their candidate
#:   building and classifier), photon pairs for ``gamma_alp``.
#: - Belle (KEKB, 10.58 GeV as ``datasets/belleflow.yaml``'s ``belle_4S``):
#:   ``e+e- -> mu+mu- tau+tau-`` for ``tautau_phil`` and
#:   ``dark_higgsstrahlung``. It is ``tautau_phil``'s irreducible background
#:   (its signal is tau+tau- phi_L, phi_L -> mu+mu-): in the demo it is the
#:   only background of which most events pass the preselection and reach the
#:   classifier (80 of 280; four muons stop at the missing-mass cut, tau pairs
#:   at the lepton pair). With the tau decays it also makes six-track events
#:   (14 %) that run ``dark_higgsstrahlung``'s full-reconstruction cut and,
#:   for the few that pass it, the pairing; no background of the demo passes
#:   the pairing. On 20,000 events: 5,073 reach the end of ``tautau_phil``,
#:   2,762 pass ``dark_higgsstrahlung``'s preselection and 11 its full
#:   reconstruction.
LARGE_CATALOGUE = """\
name: bench-large
description: One file of 1,000,000 events per skim, for benchmarks/bench_throughput.py.
data_root: {root}
scale: 1.0
data:
  - {{name: b2data, experiment: Belle II, machine: SuperKEKB, ecms: 10.58, luminosity: 1.0e-6,
     luminosity_source: "benchmark: a token data sample, the large files are simulation"}}
  - {{name: b1data, experiment: Belle, machine: KEKB, ecms: 10.58, luminosity: 1.0e-6,
     luminosity_source: "benchmark: a token data sample, the large files are simulation"}}
simulation:
  - {{name: b2_mumumumu, process: mumumumu, stands_for: [b2data], events: 1000000,
     events_per_file: 1000000}}
  - {{name: b2_gg, process: gg, stands_for: [b2data], events: 1000000, events_per_file: 1000000}}
  - {{name: b1_mumutautau, process: mumutautau, stands_for: [b1data], events: 1000000,
     events_per_file: 1000000}}
skims:
  - {{name: lowmult, processes: [mumumumu, mumutautau]}}
  - {{name: photons, processes: [gg]}}
"""
#: The chunk size whose CPU time is the fixed cost per chunk (the demo's signal files).
SMALL_CHUNK = 2000


def belleflow_command() -> list[str]:
    """The ``belleflow`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "belleflow"
    if not script.exists():
        msg = f"{script} not found: install belleflow into the environment running this script"
        raise FileNotFoundError(msg)
    return [str(script)]


def missing_samples(catalogue: Path) -> list[str]:
    """The data and simulation samples of ``catalogue`` with no file under its data root."""
    cat = load_catalogue(catalogue)
    views = [*cat.iter_samples("data"), *cat.iter_samples("simulation")]
    return [v.name for v in views if not cat.resolve_files(v, check=False)]


def large_catalogue(root: Path) -> Path:
    """The large-file catalogue under ``root``, its missing samples generated.

    Only the samples without a file are generated (one ``belleflow generate
    --samples NAME`` each), so adding a sample to :data:`LARGE_CATALOGUE`
    neither regenerates nor rechecks the others' files (the four-muon one
    takes an hour to make).
    """
    root.mkdir(parents=True, exist_ok=True)
    path = root / "large.yaml"
    path.write_text(LARGE_CATALOGUE.format(root=root))
    for name in missing_samples(path):
        print(f"generating {name} into {root} (up to an hour)", flush=True)
        subprocess.run(
            [*belleflow_command(), "generate", str(path), "--samples", name, "--no-progress"],
            check=True,
        )
    return path


def branches_read(columns: Iterable[Any]) -> list[str]:
    """TTree branches behind coffea's access log.

    The log holds ``Accessed`` records (their ``branch``) in a process, and
    keys such as ``Track_px-data``, ``Track_px-offsets`` in a run's report: a
    jagged branch's offsets come with its own baskets, so both are branch
    ``Track_px``.

    Examples:
        >>> branches_read(["Track_px-offsets", "Track_px-data", "beamE-data"])
        ['Track_px', 'beamE']
    """
    names = set()
    for column in columns:
        name = str(getattr(column, "branch", column))
        names.add(name.rsplit("-", 1)[0] if name.endswith(("-data", "-offsets")) else name)
    return sorted(names)


def channel_columns(channel: str, path: str | Path) -> list[str]:
    """The branches ``channel``'s processor reads from a simulation file (coffea's access log)."""
    log: list[Any] = []
    load_channel(channel).make_processor().process(open_sample(path, access_log=log))
    return branches_read(log)


def cpu_of_children() -> float:
    """User + system CPU seconds of the finished children of this process."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def whole_process(
    channel: str, catalogue: Path, *, data_root: Path | None, maxchunks: int | None
) -> dict[str, Any]:
    """``belleflow run CHANNEL --executor iterative``: wall, CPU, events, columns read."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as out:
        command = [*belleflow_command(), "run", channel, "--executor", "iterative",
                   "--catalogue", str(catalogue), "--out", out, "--no-progress"]  # fmt: skip
        if maxchunks is not None:
            command += ["--maxchunks", str(maxchunks)]
        cpu0, tic = cpu_of_children(), time.perf_counter()
        env = {k: v for k, v in os.environ.items() if k != "BELLEFLOW_DATA_ROOT"}
        if data_root is not None:
            env["BELLEFLOW_DATA_ROOT"] = str(data_root)
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
        wall, cpu = time.perf_counter() - tic, cpu_of_children() - cpu0
        if done.returncode != 0:
            msg = f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}"
            raise RuntimeError(msg)
        report = json.loads((Path(out) / channel / "report.json").read_text())
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "events": int(report["events"]["read"]),
        "columns": branches_read(report["timing"]["columns_read"]),
    }


def chunks(
    channel: str, catalogue: Path, *, data_root: Path | None, maxchunks: int | None
) -> list[dict[str, Any]]:
    """The engine's chunks of ``channel``: path, entry range and ``events.metadata``."""
    cat = load_catalogue(catalogue, data_root=data_root)
    plan = plan_channel(cat, load_channel(channel), chunksize=100_000, maxchunks=maxchunks)
    out = []
    for item in plan.work_items:
        meta = {"dataset": item.dataset, "filename": item.filename, "treename": TREE_NAME,
                "entrystart": item.entrystart, "entrystop": item.entrystop, "fileuuid": ""}  # fmt: skip
        meta.update(item.usermeta or {})
        out.append(
            {"path": item.filename, "start": item.entrystart, "stop": item.entrystop, "meta": meta}
        )
    return out


def every_kth(items: Sequence[Any], at_most: int) -> list[Any]:
    """At most ``at_most`` items, evenly spaced (keeps the mix of chunk sizes).

    Examples:
        >>> every_kth(list(range(10)), 4)
        [0, 3, 6, 9]
    """
    if len(items) <= at_most:
        return list(items)
    step = -(-len(items) // at_most)
    return list(items[::step])


def events_of(chunk: dict[str, Any]) -> Any:
    """Virtual NanoEvents of one chunk, as coffea's Runner builds them."""
    factory = NanoEventsFactory.from_root(
        file=uproot.open({chunk["path"]: None}),
        treepath=TREE_NAME,
        schemaclass=Belle2Schema,
        metadata=dict(chunk["meta"]),
        mode="virtual",
        entry_start=chunk["start"],
        entry_stop=chunk["stop"],
    )
    return factory.events()


def steady_state(channel: str, items: Sequence[dict[str, Any]]) -> list[tuple[int, float]]:
    """(events, CPU seconds) of ``processor.process`` per chunk, after a warm-up chunk."""
    processor = load_channel(channel).make_processor()
    smallest = min(items, key=lambda c: c["stop"] - c["start"])
    processor.process(events_of(smallest))  # imports, classifier loading, caches
    timed = []
    for chunk in items:
        events = events_of(chunk)
        tic = time.process_time()
        processor.process(events)
        timed.append((chunk["stop"] - chunk["start"], time.process_time() - tic))
    return timed


def io_only(items: Sequence[dict[str, Any]], branches: Sequence[str]) -> float:
    """CPU seconds of reading ``branches`` of every chunk with uproot (opening included)."""
    tic = time.process_time()
    for chunk in items:
        with uproot.open(chunk["path"]) as file:
            file[TREE_NAME].arrays(
                list(branches), entry_start=chunk["start"], entry_stop=chunk["stop"]
            )
    return time.process_time() - tic


def fixed_cost(timed: Sequence[tuple[int, float]]) -> dict[str, float | None]:
    """Median CPU of the 2,000-event chunks and the straight line CPU = a + b * events.

    Examples:
        >>> fixed_cost([(2000, 0.1), (2000, 0.3), (100000, 1.0)])["median_small_s"]
        0.2
    """
    small = [cpu for n, cpu in timed if n == SMALL_CHUNK]
    sizes = np.array([n for n, _ in timed], dtype=float)
    cpus = np.array([cpu for _, cpu in timed])
    fit: dict[str, float | None] = {"fit_a_s": None, "fit_b_s": None}
    if len(set(sizes.tolist())) > 1:
        slope, intercept = np.polyfit(sizes, cpus, 1)
        fit = {"fit_a_s": float(intercept), "fit_b_s": float(slope)}
    return {"median_small_s": statistics.median(small) if small else None, **fit}


def measure(
    channel: str,
    dataset: str,
    catalogue: Path,
    *,
    data_root: Path | None,
    maxchunks: int | None,
    steady_chunks: int,
) -> dict[str, Any] | None:
    """One repeat of the three measurements of ``channel`` on ``dataset`` (None: no events).

    None when the catalogue has no file of the channel's skim and experiments.
    """
    items = chunks(channel, catalogue, data_root=data_root, maxchunks=maxchunks)
    if not items:
        return None
    whole = whole_process(channel, catalogue, data_root=data_root, maxchunks=maxchunks)
    if sum(c["stop"] - c["start"] for c in items) != whole["events"]:
        msg = f"{channel} on {dataset}: the plan and the run disagree on the events"
        raise RuntimeError(msg)
    sampled = every_kth(items, steady_chunks)
    timed = steady_state(channel, sampled)
    io_cpu = io_only(items, whole["columns"])
    return {
        "whole": whole,
        "steady": {
            "events": sum(n for n, _ in timed),
            "cpu_s": sum(c for _, c in timed),
            "chunks": len(timed),
            "per_chunk": timed,
        },
        "io": {"events": whole["events"], "cpu_s": io_cpu, "branches": len(whole["columns"])},
    }


def summarise(repeats: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians over repeats: rates (events/s/core) and ratios to the I/O-only rate."""
    whole = statistics.median(r["whole"]["events"] / r["whole"]["cpu_s"] for r in repeats)
    wall = statistics.median(r["whole"]["wall_s"] for r in repeats)
    steady = statistics.median(r["steady"]["events"] / r["steady"]["cpu_s"] for r in repeats)
    io = statistics.median(r["io"]["events"] / r["io"]["cpu_s"] for r in repeats)
    per_chunk = [t for r in repeats for t in r["steady"]["per_chunk"]]
    return {
        "events": repeats[0]["whole"]["events"],
        "whole_wall_s": wall,
        "whole_rate": whole,
        "steady_rate": steady,
        "io_rate": io,
        "whole_over_io": io / whole,
        "steady_over_io": io / steady,
        "fixed_cost": fixed_cost(per_chunk),
        "columns": repeats[0]["whole"]["columns"],
    }


def table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The markdown table of :func:`summarise` results by channel and dataset."""
    header = (
        "| channel | dataset | events | whole process (k ev/s/core) | steady state "
        "(k ev/s/core) | I/O only (k ev/s/core) | whole / I/O | steady / I/O "
        "| CPU of a 2k chunk (ms) | branches read |"
    )
    rows = [
        header,
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for channel, by_dataset in results.items():
        for dataset, s in by_dataset.items():
            small = s["fixed_cost"]["median_small_s"]
            rows.append(
                f"| {channel} | {dataset} | {s['events']:,} | {s['whole_rate'] / 1e3:.1f} "
                f"| {s['steady_rate'] / 1e3:.1f} | {s['io_rate'] / 1e3:.0f} "
                f"| {s['whole_over_io']:.1f} | {s['steady_over_io']:.1f} "
                f"| {'-' if small is None else f'{small * 1e3:.0f}'} | {len(s['columns'])} |"
            )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channels", nargs="+", default=list(CHANNELS), choices=CHANNELS)
    parser.add_argument(
        "--datasets", nargs="+", default=["demo", "large"], choices=["demo", "large"]
    )
    parser.add_argument("--repeat", type=int, default=1, help="interleaved repeats (median)")
    parser.add_argument("--steady-chunks", type=int, default=30,
                        help="at most this many chunks timed in the steady state")  # fmt: skip
    parser.add_argument("--large-chunks", type=int, default=None,
                        help="at most this many 100k-event chunks of the large file")  # fmt: skip
    parser.add_argument("--demo-root", type=Path, default=None, help="demo data folder")
    parser.add_argument("--large-root", type=Path, default=Path("/tmp/bench-data"))
    parser.add_argument("--json", type=Path, default=Path("bench_throughput.json"))
    args = parser.parse_args()

    catalogues = {"demo": (DEMO_CATALOGUE, args.demo_root, None)}
    if "large" in args.datasets:
        large = large_catalogue(args.large_root.resolve())
        catalogues["large"] = (large, args.large_root.resolve(), args.large_chunks)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    load = [os.getloadavg()[0]]
    for i in range(args.repeat):
        for channel in args.channels:
            for dataset in args.datasets:
                catalogue, root, maxchunks = catalogues[dataset]
                tic = time.perf_counter()
                result = measure(channel, dataset, catalogue, data_root=root,
                                 maxchunks=maxchunks, steady_chunks=args.steady_chunks)  # fmt: skip
                if result is None:
                    print(f"{channel} on {dataset}: skipped, no chunk of this dataset is "
                          "of the channel's experiments and skim", flush=True)  # fmt: skip
                    continue
                runs.setdefault(channel, {}).setdefault(dataset, []).append(result)
                load.append(os.getloadavg()[0])
                # Written as it goes: a run stopped early keeps what it measured.
                args.json.write_text(json.dumps({"load": load, "runs": runs}, indent=1))
                print(f"repeat {i + 1}: {channel} on {dataset} in "
                      f"{time.perf_counter() - tic:.0f} s (load {load[-1]:.1f})", flush=True)  # fmt: skip
    results = {c: {d: summarise(r) for d, r in by.items()} for c, by in runs.items()}
    print(f"\nCPU time on one core; medians of {args.repeat} interleaved repeats; load average "
          f"{min(load):.1f}-{max(load):.1f} on {os.cpu_count()} cores\n")  # fmt: skip
    print(table(results))
    print("\nbranches read (whole-process access log):")
    for channel, by_dataset in results.items():
        print(f"  {channel}: {', '.join(next(iter(by_dataset.values()))['columns'])}")
    for channel, by_dataset in results.items():
        for dataset, s in by_dataset.items():
            a = s["fixed_cost"]["fit_a_s"]
            if a is not None:
                b = s["fixed_cost"]["fit_b_s"]
                print(f"  {channel} on {dataset}: CPU per chunk = {a * 1e3:.0f} ms + events x "
                      f"{b * 1e6:.1f} us (straight-line fit)")  # fmt: skip
    args.json.write_text(json.dumps({"load": load, "runs": runs, "results": results}, indent=1))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
