"""Are two ``belleflow run`` outputs the same? Histograms and cutflows, bin by bin, exactly.

Run: ``python benchmarks/compare_runs.py NEW OLD [--channels A B]``, where
``NEW`` and ``OLD`` are ``belleflow run --out`` folders (``DIR/CHANNEL/
{histograms.json, report.json}``). For every channel of ``OLD`` it compares

* every histogram of ``histograms.json``: the same axes (processes,
  variations, observable edges) and, for every process and variation, the
  same values and variances in every bin, flow bins included (exact
  equality, not a tolerance);
* the cutflow of ``report.json``: for every sample and cut the same raw
  count and weighted sum.

It prints ``identical`` or each difference: how many bins differ and by how
much, and for the cutflow the difference in raw events, which counts the
events that moved across a cut (e.g. an event exactly at a cut edge whose
value changed in the last bits). Exit code 0 when everything is identical,
1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from belleflow.engine.outputs import load_histograms

__all__ = ["compare_channel", "compare_cutflows", "compare_histograms", "main"]


def compare_histograms(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    """Differences between two ``{name: Hist(process, variation, ...)}`` (empty: identical)."""
    problems = []
    for name in sorted(set(new) | set(old)):
        if name not in new or name not in old:
            problems.append(f"histogram {name} only in {'new' if name in new else 'old'}")
            continue
        a, b = new[name], old[name]
        if a.ndim != b.ndim or any(
            not np.array_equal(x.edges, y.edges)
            for x, y in zip(a.axes[2:], b.axes[2:], strict=True)
        ):
            problems.append(f"{name}: different observable axes")
            continue
        for axis in (0, 1):
            only = set(a.axes[axis]) ^ set(b.axes[axis])
            if only:
                problems.append(f"{name}: {a.axes[axis].name} only on one side: {sorted(only)}")
        view_a, view_b = a.view(flow=True), b.view(flow=True)
        for process in sorted(set(a.axes[0]) & set(b.axes[0])):
            for variation in sorted(set(a.axes[1]) & set(b.axes[1])):
                i, j = a.axes[0].index(process), a.axes[1].index(variation)
                k, m = b.axes[0].index(process), b.axes[1].index(variation)
                for key in ("value", "variance"):
                    x, y = view_a[key][i, j], view_b[key][k, m]
                    if not np.array_equal(x, y):
                        differ = x != y
                        problems.append(
                            f"{name}[{process}, {variation}] {key}s differ in "
                            f"{int(np.count_nonzero(differ))} bins (sum new - old "
                            f"{float(np.sum(x - y)):.6g}, largest |difference| "
                            f"{float(np.max(np.abs(x - y))):.6g})"
                        )
    return problems


def compare_cutflows(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    """Differences between two ``{sample: {cut: [raw, weighted]}}`` (empty: identical)."""
    problems = []
    for sample in sorted(set(new) | set(old)):
        a, b = new.get(sample), old.get(sample)
        if a is None or b is None:
            problems.append(f"cutflow of {sample} only in {'new' if a is not None else 'old'}")
            continue
        if list(a) != list(b):
            problems.append(f"cutflow of {sample}: cuts {list(a)} != {list(b)}")
            continue
        for cut in a:
            if a[cut] != b[cut]:
                events = a[cut][0] - b[cut][0]
                problems.append(
                    f"cutflow of {sample} at {cut}: {a[cut]} != {b[cut]} ({events:+.0f} events)"
                )
    return problems


def compare_channel(new: Path, old: Path) -> list[str]:
    """Differences between the outputs of one channel in two run folders."""
    problems = compare_histograms(load_histograms(new), load_histograms(old))
    cutflows = [json.loads((d / "report.json").read_text())["cutflow"] for d in (new, old)]
    return problems + compare_cutflows(*cutflows)


def main(argv: list[str] | None = None) -> int:
    """Compare two run folders channel by channel; 0 when identical."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("new", type=Path)
    parser.add_argument("old", type=Path)
    parser.add_argument("--channels", nargs="*", help="default: every channel of OLD")
    args = parser.parse_args(argv)
    channels = args.channels or sorted(
        d.name for d in args.old.iterdir() if (d / "histograms.json").is_file()
    )
    different = False
    for channel in channels:
        missing = [d for d in (args.new, args.old) if not (d / channel / "report.json").is_file()]
        if missing:
            print(f"{channel}: no run output in {', '.join(map(str, missing))}")
            different = True
            continue
        problems = compare_channel(args.new / channel, args.old / channel)
        print(f"{channel}: {'identical' if not problems else f'{len(problems)} differences'}")
        for problem in problems:
            print(f"  {problem}")
        different |= bool(problems)
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
