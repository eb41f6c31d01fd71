"""The main job, ``belleflow demo``: the whole chain on the embedded default.

On the demo catalogue (``datasets/demo.yaml``: the full catalogue at a
stated fraction of every data sample's luminosity) it

1. generates the synthetic ntuples if they are missing, into a cache folder
   it names (files already there and valid are kept);
2. runs every registered channel on one Dask LocalCluster, in one pass over
   the files (each chunk is read once and given to every channel that uses
   its sample: :mod:`belleflow.engine.onepass`);
3. computes every channel's limits on the same cluster;
4. summarises: per channel and signal model, the mass range and the best and
   worst expected and observed limits in the paper's units, and the largest
   local significance;
5. writes the HTML report of everything, ``OUT/report.html``.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from belleflow.catalogue import DATA_ROOT_ENV, default_catalogue_path, load_catalogue
from belleflow.channels import available_channels
from belleflow.engine import run_channels
from belleflow.engine.executors import local_cluster
from belleflow.generation.production import produce
from belleflow.limits import compute_channel_limits
from belleflow.progress import counter, progress_bar
from belleflow.report import write_report

__all__ = ["DemoResult", "SummaryRow", "run_demo"]


@dataclass(frozen=True)
class SummaryRow:
    """One line of the demo's summary: a channel's signal model."""

    channel: str
    signal_model: str
    units: str
    cl: float
    mass_range: tuple[float, float]
    expected_best: float
    expected_worst: float
    observed_best: float
    observed_worst: float
    max_local_z: float
    max_local_z_mass: float
    directory: Path
    blinded: bool


@dataclass
class DemoResult:
    """What the demo produced and where."""

    catalogue: Path
    data_root: Path
    out: Path
    rows: list[SummaryRow] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    complete: bool = True
    report: Path | None = None


@contextlib.contextmanager
def _data_root(path: Path) -> Iterator[None]:
    """Point the catalogue at ``path`` for the engine (which reads the environment)."""
    old = os.environ.get(DATA_ROOT_ENV)
    os.environ[DATA_ROOT_ENV] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(DATA_ROOT_ENV, None)
        else:
            os.environ[DATA_ROOT_ENV] = old


def _summary(channel: str, result: Any) -> SummaryRow:
    points = result.converted
    # A blinded scan has no observation: its "observed" limits are Asimov ones.
    observed = (
        []
        if result.model.blinded
        else [p["observed_converted"] for p in points if math.isfinite(p["observed_converted"])]
    )
    expected = [
        p["expected_converted"][2] for p in points if math.isfinite(p["expected_converted"][2])
    ]
    masses = [p["mass"] for p in points]
    g = result.global_significance
    return SummaryRow(
        channel=channel,
        signal_model=result.model.signal_model,
        units=result.model.units,
        cl=result.model.cl,
        mass_range=(min(masses), max(masses)) if masses else (math.nan, math.nan),
        expected_best=min(expected, default=math.nan),
        expected_worst=max(expected, default=math.nan),
        observed_best=min(observed, default=math.nan),
        observed_worst=max(observed, default=math.nan),
        max_local_z=g.z_local,
        max_local_z_mass=g.mass,
        # Where limits.json is: CHANNEL/ for one model, CHANNEL/<model>/ for several.
        directory=result.files["json"].parent,
        blinded=result.model.blinded,
    )


def run_demo(
    *,
    catalogue: str | os.PathLike[str] | None = None,
    data_root: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] = "belleflow-demo",
    channels: Sequence[str] | None = None,
    workers: int | None = None,
    seed: int = 0,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> DemoResult:
    """Generate (if missing), run every channel, compute limits, summarise, write the report.

    Args:
        catalogue: Catalogue to use (default: the embedded ``datasets/demo.yaml``).
        data_root: Where the ntuples are (or are generated): default the
            catalogue's ``data_root`` (for the demo, ``~/.cache/belleflow/demo-data``).
        out: Output folder of the run and the limits.
        channels: Channels to run (default: every registered channel).
        workers: Dask workers (default: one per core).
        seed: Seed of the synthetic production.
        progress: Show progress bars.
        echo: Where messages go.

    Returns:
        The summary rows and where everything is.
    """
    import distributed  # noqa: PLC0415 - heavy, only when running

    catalogue_path = Path(catalogue) if catalogue else default_catalogue_path()
    cat = load_catalogue(catalogue_path, data_root=data_root)
    root = cat.data_root
    out_dir = Path(out)
    names = list(channels) if channels else [c.name for c in available_channels()]
    result = DemoResult(catalogue=catalogue_path, data_root=root, out=out_dir)
    n_workers = workers or os.cpu_count() or 1

    echo(f"belleflow demo: catalogue {catalogue_path} (scale {cat.scale:g}), data in {root}")
    start = time.perf_counter()
    report = produce(cat, data_root=root, seed=seed, workers=n_workers, progress=progress)
    result.timings["generate"] = time.perf_counter() - start
    echo(
        f"synthetic production: {len(report.written)} files written, "
        f"{len(report.skipped)} already there ({result.timings['generate']:.0f} s)"
    )
    with (
        _data_root(root),
        # The engine's cluster: scheduler, workers and dashboard on 127.0.0.1 only.
        local_cluster(n_workers, dashboard_address="127.0.0.1:0") as cluster,
        distributed.Client(cluster) as client,  # type: ignore[no-untyped-call]
    ):
        start = time.perf_counter()
        run = run_channels(
            names,
            catalogue=catalogue_path,
            client=client,
            executor="local",
            out=out_dir,
            progress=progress,
            echo=echo,
        )
        result.timings["run"] = time.perf_counter() - start
        result.complete = run.complete
        start = time.perf_counter()
        for name in names:
            try:
                with progress_bar(progress) as bar:
                    found = compute_channel_limits(
                        name, out_dir, client=client, progress=counter(bar, "hypotheses")
                    )
                result.rows.extend(_summary(name, limits) for limits in found)
            except (ValueError, TypeError, OSError) as err:
                # One channel's statistics must not hide the others' results.
                result.failures[name] = f"{type(err).__name__}: {err}"
                echo(f"{name}: limits failed: {err}")
        result.timings["limits"] = time.perf_counter() - start
    start = time.perf_counter()
    ran = [n for n in names if (out_dir / n / "report.json").exists()]
    if ran:
        result.report = write_report(out_dir, ran)
    result.timings["report"] = time.perf_counter() - start
    return result
