"""Benchmark of the channel processors: events/s per core, time split, identical results.

Run from the repository: ``python benchmarks/bench_processors.py [--channels A B]
[--events N] [--repeat R] [--baseline REV] [--no-profile]``.

For every registered channel the processor runs over a fixed set of demo
ntuples of its skim (data, the four-lepton ``eemumu`` and ``eeee``, ``tautau``,
``uubar``, ``mumu`` -- ``gg`` and ``ee`` for the photon skim -- and one signal
point), at most ``--events`` events of each (one chunk per sample, read as
the engine reads them: ``NanoEventsFactory.from_root(mode="virtual")`` with
the engine's ``events.metadata``). The time of ``processor.process`` (which
includes reading the columns it touches, as coffea's ``processtime``) is
summed over the samples; the median over ``--repeat`` passes gives
events/s on one core. One chunk per channel is profiled with cProfile: the
own time is split by package (uproot reading, awkward, numpy, hist filling,
belleflow) and the slowest belleflow functions are listed.

``--baseline REV`` (default ``HEAD``) also runs the benchmark, in a
subprocess, with the files this optimisation touches
(``processors/belleflow_channels/*.py`` and ``src/belleflow/{selection,
systematics,kinematics}.py``) taken from git revision ``REV`` and
everything else from the working tree, and then checks that both give the
same histograms (values and variances, bin by bin, flow bins included,
exactly) and the same cutflows. ``--baseline none`` skips it. The exit code
is 1 if they differ.

The demo ntuples are in ``~/.cache/belleflow/demo-data`` (``belleflow
generate datasets/demo.yaml --data-root ~/.cache/belleflow/demo-data``
writes them, about 2 minutes) or ``--data-root``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pickle
import pstats
import shutil
import statistics
import subprocess
import sys
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
#: The files the optimisation may change (taken from ``--baseline``).
OPTIMISED = (
    "src/belleflow/selection.py",
    "src/belleflow/systematics.py",
    "src/belleflow/kinematics.py",
    *(f"processors/belleflow_channels/{c}.py" for c in CHANNELS),
)


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


def make_events(item: dict[str, Any]) -> Any:
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
    )
    return factory.events()


def _package(filename: str) -> str:
    for key in ("uproot", "awkward", "hist", "boost_histogram", "numpy", "vector", "coffea",
                "particle", "belleflow", "xgboost", "sklearn"):  # fmt: skip
        if f"/{key}/" in filename or f"/{key}_" in filename:
            return "hist" if key == "boost_histogram" else key
    return "builtins" if filename == "~" else "other"


def profile(channel: str, item: dict[str, Any]) -> str:
    """cProfile of one chunk: own time by package and the slowest belleflow functions."""

    processor = load_channel(channel).make_processor()
    events = make_events(item)
    profiler = cProfile.Profile()
    profiler.enable()
    processor.process(events)
    profiler.disable()
    stats = pstats.Stats(profiler)
    split: dict[str, float] = {}
    total = 0.0
    rows = []
    for (filename, line, func), (_, _, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        split[_package(filename)] = split.get(_package(filename), 0.0) + tottime
        total += tottime
        if "belleflow" in filename:
            rows.append((cumtime, f"{Path(filename).name}:{line}({func})"))
    out = io.StringIO()
    n = item["stop"]
    out.write(f"  profile of {item['metadata']['dataset']} ({n} events, {total:.2f} s): own time ")
    out.write(
        ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(split.items(), key=lambda kv: -kv[1]))
    )
    out.write("\n  slowest belleflow functions (cumulative):\n")
    for cumtime, name in sorted(rows, reverse=True)[:8]:
        out.write(f"    {cumtime:7.3f} s  {name}\n")
    return out.getvalue()


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


def run_channel(channel: str, data_root: Path, max_events: int, repeat: int) -> dict[str, Any]:
    """Timings (median of ``repeat``) and the merged results of one channel."""

    items = work_items(channel, data_root, max_events)
    processor = load_channel(channel).make_processor()
    processor.process(make_events(items[-1]))  # warm-up: imports, model loading, caches
    times, per_sample = [], {}
    output = None
    for _ in range(repeat):
        outputs, total = [], 0.0
        for item in items:
            events = make_events(item)
            tic = time.perf_counter()
            outputs.append(processor.process(events))
            elapsed = time.perf_counter() - tic
            total += elapsed
            per_sample.setdefault(item["metadata"]["dataset"], []).append(elapsed)
        times.append(total)
        output = accumulate(outputs)
    n = sum(item["stop"] for item in items)
    return {
        "events": n,
        "seconds": statistics.median(times),
        "rate": n / statistics.median(times),
        "per_sample": {
            k: (i["stop"], statistics.median(per_sample[k]))
            for k, i in zip(per_sample, items, strict=True)
        },
        "results": _results(output or {}),
    }


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
    """A copy of the working tree's packages with the optimised files from ``rev``."""
    root = Path(tempfile.mkdtemp(prefix="belleflow-baseline-"))
    for folder in ("src/belleflow", "processors/belleflow_channels"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for path in OPTIMISED:
        text = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=REPO, check=True,
                              capture_output=True).stdout  # fmt: skip
        (root / path).write_bytes(text)
    return root


def run_all(channels: list[str], args: argparse.Namespace, label: str) -> dict[str, Any]:
    out = {}
    for channel in channels:
        result = run_channel(channel, Path(args.data_root), args.events, args.repeat)
        out[channel] = result
        print(f"[{label}] {channel:20s} {result['events']:7d} events in {result['seconds']:6.2f} s"
              f" -> {result['rate']:8.0f} events/s", flush=True)  # fmt: skip
        if args.verbose:
            for sample, (n, seconds) in result["per_sample"].items():
                print(f"    {sample:38s} {n:6d} events {seconds:6.2f} s {n / seconds:8.0f}/s")
        if args.profile:
            items = work_items(channel, Path(args.data_root), args.events)
            print(profile(channel, max(items, key=lambda i: i["stop"])), flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", nargs="*", default=list(CHANNELS))
    parser.add_argument("--events", type=int, default=40_000, help="events per sample at most")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-root", default=str(DEFAULT_DATA_ROOT))
    parser.add_argument("--baseline", default="HEAD", help="git revision to compare with, or none")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--verbose", action="store_true", help="times per sample")
    parser.add_argument("--dump", help=argparse.SUPPRESS)  # internal: baseline subprocess
    args = parser.parse_args()
    if not Path(args.data_root).is_dir():
        print(f"no demo data in {args.data_root}: run `belleflow generate datasets/demo.yaml "
              f"--data-root {args.data_root}` first")  # fmt: skip
        return 2
    if args.dump:
        result = run_all(args.channels, args, "baseline")
        Path(args.dump).write_bytes(pickle.dumps(result))
        return 0
    baseline = None
    if args.baseline.lower() != "none":
        tree = baseline_tree(args.baseline)
        dump = tree / "baseline.pkl"
        env = dict(os.environ, PYTHONPATH=f"{tree / 'src'}{os.pathsep}{tree / 'processors'}")
        command = [sys.executable, __file__, "--channels", *args.channels, "--events",
                   str(args.events), "--repeat", str(args.repeat), "--data-root", args.data_root,
                   "--no-profile", "--dump", str(dump)]  # fmt: skip
        print(f"baseline: optimised files from {args.baseline} ({tree})", flush=True)
        subprocess.run(command, env=env, check=True, cwd=tree)
        baseline = pickle.loads(dump.read_bytes())
        shutil.rmtree(tree, ignore_errors=True)
    current = run_all(args.channels, args, "current")
    if baseline is None:
        return 0
    print(f"\n{'channel':20s} {'baseline/s':>11s} {'current/s':>10s} {'speed-up':>9s}  results")
    problems = []
    for channel in args.channels:
        new, old = current[channel], baseline[channel]
        diff = compare(channel, new["results"], old["results"])
        problems += diff
        n_bins = sum(h["value"].size for h in new["results"]["histograms"].values())
        status = "identical" if not diff else f"{len(diff)} DIFFERENCES"
        print(f"{channel:20s} {old['rate']:11.0f} {new['rate']:10.0f} "
              f"{new['rate'] / old['rate']:8.1f}x  {status} ({n_bins} bins, "
              f"{len(new['results']['cutflow'])} cutflows)")  # fmt: skip
    for problem in problems:
        print("  " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
