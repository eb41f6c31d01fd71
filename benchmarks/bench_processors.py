"""Benchmark of the channel processors: fixed cost per chunk, steady state, I/O only, identity.

Run from the repository: ``python benchmarks/bench_processors.py [--channels A B]
[--repeat R] [--small N] [--large N] [--baseline REV] [--profile] [--data-root DIR]``.

For every channel, on the demo production (its catalogue ``datasets/demo.yaml``):

* *fixed cost per chunk*: CPU time of one chunk of the channel's signal point
  (``--small`` events: the demo's signal files hold 2,000 events, one chunk
  each), built as the engine builds it (``NanoEventsFactory.from_root(mode=
  "virtual")`` with the engine's ``events.metadata``) and processed, reading
  included, as coffea's ``processtime``;
* *steady state*: the same for one large chunk (the first file of the
  channel's largest simulation sample, at most ``--large`` events), as
  events per second per core;
* *I/O only*: CPU time of reading, with uproot, exactly the branches the
  processor read (NanoEvents' access log) for the same entries; the ratio
  processor / I/O is the target of issue 10 (at most 1.5);
* *results*: the histograms and cutflows of the two chunks.

Times are CPU times of the measuring process (``time.process_time``, one
core), medians over ``--repeat`` rounds. Each round runs in a fresh
subprocess per side (imports, model loading and one warm-up chunk excluded).

``--baseline REV`` (default ``main``) measures, interleaved round by round, the
same with ``src/`` and ``processors/`` of git revision ``REV`` (``git
archive`` into a temporary folder, first on ``PYTHONPATH``) and then checks
that both give the same histograms (values and variances, bin by bin, flow
bins included, exactly) and the same cutflows; ``--baseline none`` skips it.
The exit code is 1 if they differ. ``--profile`` writes a pyinstrument
profile of each channel's small and large chunk (current tree) to
``--profile-dir``.

The demo ntuples are in ``~/.cache/belleflow/demo-data`` (``belleflow
generate datasets/demo.yaml --data-root ~/.cache/belleflow/demo-data``
writes them, about 2 minutes) or ``--data-root``.
"""

from __future__ import annotations

import argparse
import functools
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import uproot
from coffea.nanoevents import NanoEventsFactory
from coffea.processor import accumulate

from belleflow.catalogue import load_catalogue
from belleflow.channels import load_channel
from belleflow.engine.fileset import TREE_NAME, inspect_files, plan_channel
from belleflow.schema import Belle2Schema

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = Path("~/.cache/belleflow/demo-data").expanduser()
CHANNELS = ("dark_higgsstrahlung", "four_muon", "mumu_tautau", "tautau_phil", "gamma_alp")
#: The samples each channel runs on (data first).
SAMPLES = {
    "dark_higgsstrahlung": ("belle_4S", "belle_4S_eemumu", "belle_4S_eeee", "belle_4S_tautau",
                            "belle_4S_uubar", "belle_4S_mumu", "belle_darkhiggs_ap1_m4_ctau0"),
    "tautau_phil": ("belle_4S", "belle_4S_eemumu", "belle_4S_eeee", "belle_4S_tautau",
                    "belle_4S_uubar", "belle_4S_mumu", "belle_phil_m1_ctau0"),
    "four_muon": ("belle2_run1_4S", "belle2_4S_eemumu", "belle2_4S_eeee", "belle2_4S_tautau",
                  "belle2_4S_uubar", "belle2_4S_mumu", "belle2_4mu_zprime_m2_ctau0"),
    "mumu_tautau": ("belle2_run1_4S", "belle2_4S_eemumu", "belle2_4S_eeee", "belle2_4S_tautau",
                    "belle2_4S_uubar", "belle2_4S_mumu", "belle2_mumutautau_scalar_m9p5_ctau0"),
    "gamma_alp": ("belle2_run1_4S", "belle2_4S_gg", "belle2_4S_ee", "belle2_4S_tautau",
                  "belle2_4S_mumu", "belle2_gamma_alp_m2_ctau0"),
}  # fmt: skip


def work_items(channel: str, data_root: Path, max_events: int) -> list[dict[str, Any]]:
    """One chunk per sample: path, entry range and the engine's metadata."""

    catalogue = load_catalogue(REPO / "datasets" / "demo.yaml", data_root=data_root)
    plan = plan_channel(catalogue, load_channel(channel), chunksize=10**9, samples=SAMPLES[channel])
    items = []
    for name in SAMPLES[channel]:
        sample = plan.samples[name]
        path = sample.files[0]
        entries = inspect_files([path])[path].entries or 0
        stop = min(entries, max_events)
        meta = {"dataset": name, "filename": path, "treename": TREE_NAME,
                "entrystart": 0, "entrystop": stop, "fileuuid": ""}  # fmt: skip
        meta.update(sample.usermeta(unblind=False))
        items.append({"path": path, "stop": stop, "metadata": meta})
    return items


def make_events(item: dict[str, Any], access_log: list[Any] | None = None) -> Any:
    """Virtual NanoEvents of one chunk, as coffea's Runner builds them."""

    file = uproot.open({item["path"]: None})
    factory = NanoEventsFactory.from_root(
        file=file,
        treepath=TREE_NAME,
        schemaclass=Belle2Schema,
        metadata=dict(item["metadata"]),
        mode="virtual",
        entry_start=0,
        entry_stop=item["stop"],
        **({} if access_log is None else {"access_log": access_log}),
    )
    return factory.events()


def chunks(channel: str, data_root: Path, small: int, large: int) -> dict[str, dict[str, Any]]:
    """The small (signal) and large (largest simulation sample) chunk of a channel."""
    signal = work_items(channel, data_root, small)[-1]
    simulation = work_items(channel, data_root, large)[1:-1]
    return {"small": signal, "large": max(simulation, key=lambda item: item["stop"])}


def _cpu(function: Any) -> tuple[float, Any]:
    tic = time.process_time()
    out = function()
    return time.process_time() - tic, out


def _process(processor: Any, item: dict[str, Any], log: list[Any]) -> Any:
    return processor.process(make_events(item, log))


def read_only(item: dict[str, Any], branches: list[str]) -> float:
    """CPU time of reading ``branches`` of the chunk with uproot (file opening included)."""

    def read() -> Any:
        with uproot.open(item["path"]) as file:
            return file[TREE_NAME].arrays(branches, entry_stop=item["stop"], library="ak")

    return _cpu(read)[0]


def measure(channels: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """One round: per channel and chunk, the processor's and the read-only CPU time, results."""
    out: dict[str, Any] = {}
    for channel in channels:
        items = chunks(channel, Path(args.data_root), args.small, args.large)
        processor = load_channel(channel).make_processor()
        processor.process(make_events(items["small"]))  # warm-up: imports, model, caches
        row: dict[str, Any] = {}
        outputs = []
        for label, item in items.items():
            log: list[Any] = []
            seconds, output = _cpu(functools.partial(_process, processor, item, log))
            branches = sorted({access.branch for access in log})
            row[label] = {
                "sample": item["metadata"]["dataset"],
                "events": item["stop"],
                "seconds": seconds,
                "io": read_only(item, branches),
                "branches": len(branches),
            }
            outputs.append(output)
        row["results"] = _results(accumulate(outputs))
        out[channel] = row
    return out


def profile(channels: list[str], args: argparse.Namespace) -> None:
    """pyinstrument profiles of each channel's small and large chunk (current tree)."""
    from pyinstrument import Profiler  # noqa: PLC0415 (dev dependency group)

    folder = Path(args.profile_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for channel in channels:
        items = chunks(channel, Path(args.data_root), args.small, args.large)
        processor = load_channel(channel).make_processor()
        processor.process(make_events(items["small"]))
        for label, item in items.items():
            events = make_events(item)
            profiler = Profiler(interval=0.0005)
            profiler.start()
            processor.process(events)
            profiler.stop()
            path = folder / f"{channel}_{label}.txt"
            path.write_text(profiler.output_text(unicode=False, color=False))
            print(f"profile of {channel} {label} chunk: {path}")


def _results(output: dict[str, Any]) -> dict[str, Any]:
    """Histograms (values and variances with flow) and cutflows, by sample, as plain arrays."""
    hists = {}
    for name, h in output["histograms"].items():
        view = h.view(flow=True)
        hists[name] = {
            "datasets": list(h.axes[0]),
            "variations": list(h.axes[1]),
            "value": np.asarray(view.value),
            "variance": np.asarray(view.variance),
        }
    cutflow = {s: {c: [float(x) for x in v] for c, v in cuts.items()}
               for s, cuts in output["cutflow"].items()}  # fmt: skip
    return {"histograms": hists, "cutflow": cutflow}


def compare(channel: str, new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    """Differences between two results (empty: identical, bin by bin, exactly)."""
    problems = []
    if new["cutflow"] != old["cutflow"]:
        for sample in sorted(set(new["cutflow"]) | set(old["cutflow"])):
            a, b = new["cutflow"].get(sample), old["cutflow"].get(sample)
            if a != b:
                problems.append(f"{channel}: cutflow of {sample}: {a} != {b}")
    for name in sorted(set(new["histograms"]) | set(old["histograms"])):
        a, b = new["histograms"].get(name), old["histograms"].get(name)
        if a is None or b is None:
            problems.append(f"{channel}: histogram {name} only on one side")
            continue
        for axis in ("datasets", "variations"):
            if sorted(a[axis]) != sorted(b[axis]):
                problems.append(f"{channel}: {name} {axis}: {a[axis]} != {b[axis]}")
        if problems:
            continue
        for d in a["datasets"]:
            for v in a["variations"]:
                i, j = a["datasets"].index(d), a["variations"].index(v)
                k, m = b["datasets"].index(d), b["variations"].index(v)
                for key in ("value", "variance"):
                    x, y = a[key][i, j], b[key][k, m]
                    if not np.array_equal(x, y):
                        bins = int(np.count_nonzero(x != y))
                        problems.append(f"{channel}: {name}[{d}, {v}] {key}s differ in {bins} bins")
    return problems


def baseline_tree(rev: str) -> Path:
    """``src/`` and ``processors/`` of git revision ``rev`` in a temporary folder."""
    root = Path(tempfile.mkdtemp(prefix="belleflow-baseline-"))
    archive = root / "tree.tar"
    subprocess.run(["git", "archive", "-o", str(archive), rev, "src", "processors"], cwd=REPO,
                   check=True)  # fmt: skip
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    archive.unlink()
    return root


def _round(args: argparse.Namespace, tree: Path | None) -> dict[str, Any]:
    """One measuring subprocess (the baseline's packages first on the path when ``tree``)."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tree / "src"), str(tree / "processors")])
    with tempfile.TemporaryDirectory() as scratch:
        dump = Path(scratch) / "round.pkl"
        command = [sys.executable, __file__, "--channels", *args.channels, "--small",
                   str(args.small), "--large", str(args.large), "--data-root", args.data_root,
                   "--worker", str(dump)]  # fmt: skip
        subprocess.run(command, env=env, check=True, cwd=tree or REPO)
        result: dict[str, Any] = pickle.loads(dump.read_bytes())
    return result


def summary(rounds: list[dict[str, Any]], channel: str) -> dict[str, float]:
    """Medians over rounds: fixed cost (ms), steady rate (events/s/core), I/O-only ratios."""
    small = [r[channel]["small"] for r in rounds]
    large = [r[channel]["large"] for r in rounds]
    n = large[0]["events"]
    seconds = statistics.median(x["seconds"] for x in large)
    io = statistics.median(x["io"] for x in large)
    return {
        "fixed_ms": 1e3 * statistics.median(x["seconds"] for x in small),
        "fixed_io_ms": 1e3 * statistics.median(x["io"] for x in small),
        "rate": n / seconds,
        "io_rate": n / io,
        "ratio": seconds / io,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--channels", nargs="*", default=list(CHANNELS))
    parser.add_argument("--small", type=int, default=2_000, help="events of the small chunk")
    parser.add_argument("--large", type=int, default=100_000, help="events of the large chunk")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (median)")
    parser.add_argument("--data-root", default=str(DEFAULT_DATA_ROOT))
    parser.add_argument("--baseline", default="main", help="git revision to compare with, or none")
    parser.add_argument("--profile", action="store_true", help="pyinstrument profiles")
    parser.add_argument("--profile-dir", default="bench-profiles")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one measuring round
    args = parser.parse_args()
    if not Path(args.data_root).is_dir():
        print(f"no demo data in {args.data_root}: run `belleflow generate datasets/demo.yaml "
              f"--data-root {args.data_root}` first")  # fmt: skip
        return 2
    if args.worker:
        Path(args.worker).write_bytes(pickle.dumps(measure(args.channels, args)))
        return 0
    if args.profile:
        profile(args.channels, args)
    tree = None if args.baseline.lower() == "none" else baseline_tree(args.baseline)
    sides: dict[str, list[dict[str, Any]]] = {"current": []}
    if tree is not None:
        sides["baseline"] = []
    try:
        for _ in range(args.repeat):  # interleaved: one round of each side in turn
            if tree is not None:
                sides["baseline"].append(_round(args, tree))
            sides["current"].append(_round(args, None))
    finally:
        if tree is not None:
            shutil.rmtree(tree, ignore_errors=True)
    print(f"\nCPU time, one core, median of {args.repeat} interleaved rounds"
          f" (baseline: {args.baseline})")  # fmt: skip
    print(f"{'channel':20s} {'side':8s} {'fixed/chunk':>11s} {'(I/O)':>8s} "
          f"{'events/s/core':>13s} {'I/O only/s':>11s} {'x I/O':>6s}")  # fmt: skip
    problems: list[str] = []
    for channel in args.channels:
        for side, rounds in sides.items():
            f = summary(rounds, channel)
            print(f"{channel:20s} {side:8s} {f['fixed_ms']:8.0f} ms {f['fixed_io_ms']:5.0f} ms "
                  f"{f['rate']:13.0f} {f['io_rate']:11.0f} {f['ratio']:6.2f}")  # fmt: skip
        if "baseline" in sides:
            problems += compare(channel, sides["current"][0][channel]["results"],
                                sides["baseline"][0][channel]["results"])  # fmt: skip
    current = sides["current"][0]
    for channel in args.channels:
        for label in ("small", "large"):
            c = current[channel][label]
            print(f"  {channel} {label} chunk: {c['sample']}, {c['events']} events, "
                  f"{c['branches']} branches read")  # fmt: skip
    if "baseline" in sides:
        print("results: identical" if not problems else "results DIFFER:")
        for problem in problems:
            print("  " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
