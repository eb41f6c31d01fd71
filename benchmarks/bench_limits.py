"""Benchmark: a 300-point, resolution-spaced limit scan on a 2-worker LocalCluster.

Run: ``python benchmarks/bench_limits.py``. Prints the time to build the
workspaces, the scan time, the median time per point per method and the
total. Background falls exponentially with mass so that the scan mixes
asymptotic (large background) and exact (fewer than 5 events) points.
"""

from __future__ import annotations

import statistics
import time

import hist
import numpy as np
from scipy.special import ndtr

from belleflow.limits import Resolution, ScanSettings, StatModel, build_hypotheses, run_scan
from belleflow.limits.scan import evaluate
from belleflow.naming import signal_label


def make_inputs() -> tuple[StatModel, dict[str, hist.Hist]]:
    """Synthetic spectrum 0.2-9 GeV, Gaussian signal grid every 0.5 GeV."""
    edges = np.linspace(0.2, 9.2, 3601)
    centres = 0.5 * (edges[1:] + edges[:-1])
    sigma = Resolution(polynomial=[0.002, 0.004])
    grid = np.round(np.arange(0.25, 9.01, 0.25), 3)
    processes = ["data", "qq", *(signal_label("zp", m) for m in grid)]
    h = hist.Hist(
        hist.axis.StrCategory(processes, name="process"),
        hist.axis.StrCategory(["nominal", "muon_id_up", "muon_id_down"], name="variation"),
        hist.axis.Variable(edges, name="m"),
        storage=hist.storage.Weight(),
    )
    view = h.view()
    bkg = 400.0 * np.exp(-centres / 0.9) + 0.01
    view["value"][1, 0] = bkg
    view["variance"][1, 0] = bkg * 0.05
    view["value"][1, 1] = bkg * 1.04
    view["value"][1, 2] = bkg * 0.97
    view["value"][0, 0] = np.random.default_rng(1).poisson(bkg)
    for i, m in enumerate(grid):
        view["value"][2 + i, 0] = 20.0 * np.diff(ndtr((edges - m) / sigma(m)))
    model = StatModel(
        channel="bench",
        observable="m",
        mass_range=(0.3, 9.0),
        scan_step=1.0,
        resolution=sigma,
        signal_model="zp",
        cl=0.9,
        systematics=["muon_id"],
        lumi_uncertainty=0.01,
    )
    return model, {"m": h}


def main() -> None:
    """Run the benchmark and print its figures."""
    import distributed  # noqa: PLC0415

    model, hists = make_inputs()
    masses = model.hypothesis_masses()
    pick = np.linspace(0, len(masses) - 1, 300).round().astype(int)
    masses = [masses[i] for i in pick]
    t0 = time.perf_counter()
    hypotheses = build_hypotheses(model, hists, masses=masses)
    t_build = time.perf_counter() - t0
    settings = ScanSettings(cl=model.cl)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.run(lambda: __import__("pyhf"))  # warm imports, as a long-lived cluster would
        t1 = time.perf_counter()
        points = run_scan(hypotheses, settings, client=client)
        t_scan = time.perf_counter() - t1
    # Per-point timing, in process, on a sample of each method.
    per_method: dict[str, list[float]] = {}
    for h, p in list(zip(hypotheses, points, strict=True))[::10]:
        s = time.perf_counter()
        evaluate(h, settings)
        per_method.setdefault(p.method, []).append(time.perf_counter() - s)
    counts = {m: sum(p.method == m for p in points) for m in per_method}
    print(f"hypotheses: {len(hypotheses)} ({counts})")
    print(f"workspace build: {t_build:.2f} s")
    print(f"scan on 2 workers: {t_scan:.2f} s ({t_scan / len(points) * 1e3:.1f} ms/point wall)")
    for method, times in per_method.items():
        print(f"median per point [{method}]: {statistics.median(times) * 1e3:.1f} ms")
    all_times = [t for ts in per_method.values() for t in ts]
    print(f"median per point [all]: {statistics.median(all_times) * 1e3:.1f} ms")
    print(f"total (build + scan): {t_build + t_scan:.2f} s")


if __name__ == "__main__":
    main()
