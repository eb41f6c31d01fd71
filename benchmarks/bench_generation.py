"""Benchmark of the synthetic production: events/s per core by stage, and the demo production.

Run::

    python benchmarks/bench_generation.py [--events 100000] [--repeats 3] [--no-demo]

For one process of each family (and a signal model), it times in a single
process (one core): the generator alone, generator + detector simulation,
and generator + detector + writing the ntuple, each the median of
``--repeats`` runs, and prints events/s. Then it produces the demo catalogue
(``datasets/demo.yaml``) into a temporary folder with all cores and prints
the wall time, the number of events and the size on disk.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from belleflow.beams import get_machine
from belleflow.catalogue import default_catalogue_path
from belleflow.generation.detector import simulate
from belleflow.generation.production import load_generators, produce
from belleflow.generation.truth import GeneratorContext
from belleflow.ntuple import FileMetadata, write_ntuple
from belleflow.processes import PROCESSES

#: One or more representatives per process family, and a signal.
PROCESSES_TO_TIME = {
    "qed": ("mumu", "ee", "gg", "tautau"),
    "two_photon": ("eemumu", "eeee", "ggHadronic"),
    "continuum": ("uubar", "ccbar"),
    "bbbar": ("BBcharged",),
    "signal": ("zprime_lmu_ltau",),
}


def _median_rate(function: Callable[[], int], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        n = function()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def time_stages(name: str, n: int, repeats: int, folder: Path) -> tuple[float, float, float, float]:
    """Events/s of generator, +detector, +write; and mean tracks per event."""
    generator = load_generators()[name]
    machine = get_machine("Belle II")
    parameters = {"mass": 1.0, "ctau": 0.0} if name not in PROCESSES else {}
    rng = np.random.default_rng(1)
    context = GeneratorContext(machine=machine, rng=rng, parameters=parameters)
    generator(1000, context)  # warm-up: imports, caches

    def gen() -> int:
        return len(generator(n, context))

    def gen_det() -> int:
        simulate(generator(n, context), machine, rng)
        return n

    tracks = []

    def gen_det_write() -> int:
        events = simulate(generator(n, context), machine, rng)
        tracks.append(float(np.mean([len(t) for t in events["Track"].px[:1000]])))
        meta = FileMetadata(
            sample=name,
            process=name,
            kind="simulation",
            experiment="Belle II",
            machine="SuperKEKB",
            ecms=machine.ecms,
            n_events=n,
        )
        write_ntuple(folder / f"{name}.root", events, meta)
        return n

    return (
        _median_rate(gen, repeats),
        _median_rate(gen_det, repeats),
        _median_rate(gen_det_write, repeats),
        statistics.mean(tracks),
    )


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per timing")
    parser.add_argument("--repeats", type=int, default=3, help="repeats (median)")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo production")
    parser.add_argument("--workers", type=int, default=None, help="workers for the demo")
    args = parser.parse_args()

    console = Console()
    registered = load_generators()
    table = Table(title=f"events/s per core ({args.events:,} events, median of {args.repeats})")
    for column in ("family", "process", "generator", "+detector", "+write", "tracks/event"):
        table.add_column(column, justify="left" if column in ("family", "process") else "right")
    with tempfile.TemporaryDirectory() as tmp:
        for family, names in PROCESSES_TO_TIME.items():
            for name in names:
                if name not in registered:
                    table.add_row(family, name, "no generator", "", "", "")
                    continue
                g, gd, gdw, tracks = time_stages(name, args.events, args.repeats, Path(tmp))
                table.add_row(
                    family, name, f"{g:,.0f}", f"{gd:,.0f}", f"{gdw:,.0f}", f"{tracks:.2f}"
                )
    console.print(table)

    if args.no_demo:
        return
    with tempfile.TemporaryDirectory() as tmp:
        report = produce(
            default_catalogue_path("demo.yaml"),
            data_root=tmp,
            workers=args.workers,
            progress=True,
        )
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*.root"))
    console.print(
        f"demo production: {len(report.files)} files, {report.events_written:,} events in "
        f"{report.seconds:.1f} s with {report.workers} worker(s) "
        f"({report.rate:,.0f} events/s, {report.rate / report.workers:,.0f} per worker); "
        f"{size / 1e6:.1f} MB on disk ({os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
