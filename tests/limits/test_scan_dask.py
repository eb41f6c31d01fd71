"""The scan gives the same results in process and on Dask; outputs are written."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from belleflow.limits import Resolution, StatModel, compute_limits

EDGES = np.linspace(1.0, 3.0, 81)


def _inputs(make_hist, signal_grid):
    rng = np.random.default_rng(2)
    bkg = np.full(80, 0.3)  # low background: exact calculator, fast
    signal = signal_grid(EDGES, [1.2, 2.0, 2.8], lambda m: 10.0 * m, lambda _m: 0.05)
    data = rng.poisson(bkg).astype(float)
    h = make_hist(edges=EDGES, background={"qq": bkg}, signal=signal, data=data)
    model = StatModel(
        channel="scan",
        observable="m",
        mass_range=(1.5, 2.5),
        scan_step=2.0,
        resolution=Resolution(polynomial=[0.05]),
        signal_model="zp",
        cl=0.9,
        luminosity_fb=100.0,
    )
    return model, {"m": h}


def test_dask_matches_inprocess(tmp_path, make_hist, signal_grid, dask_client) -> None:
    model, hists = _inputs(make_hist, signal_grid)
    local = compute_limits(model, hists, out_dir=tmp_path / "a", plots=False)
    remote = compute_limits(model, hists, out_dir=tmp_path / "b", client=dask_client, plots=False)
    assert [p.name for p in local.points] == [p.name for p in remote.points]
    for a, b in zip(local.points, remote.points, strict=True):
        assert a.observed == pytest.approx(b.observed, rel=1e-9)
    assert len(local.points) == 11


def test_outputs_written(tmp_path, make_hist, signal_grid) -> None:
    model, hists = _inputs(make_hist, signal_grid)
    result = compute_limits(model, hists, out_dir=tmp_path, masses=[1.8, 2.0, 2.2])
    payload = json.loads((tmp_path / "limits.json").read_text())
    assert payload["cl"] == 0.9
    assert payload["methods"] == {"exact": 3}
    assert len(payload["points"]) == 3
    with (tmp_path / "limits.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert float(rows[1]["mass"]) == pytest.approx(2.0)
    for name in ("brazil.png", "brazil.pdf"):
        assert (tmp_path / name).stat().st_size > 1000
    assert len(list((tmp_path / "workspaces").glob("*.json"))) == 3
    assert result.global_significance.trials >= 1


@pytest.mark.parametrize("on_dask", [False, True], ids=["inprocess", "dask"])
def test_progress_counts_hypotheses(tmp_path, make_hist, signal_grid, dask_client, on_dask) -> None:
    model, hists = _inputs(make_hist, signal_grid)
    calls: list[tuple[str, int, int]] = []
    compute_limits(
        model,
        hists,
        out_dir=tmp_path,
        plots=False,
        client=dask_client if on_dask else None,
        progress=lambda label, done, total: calls.append((label, done, total)),
    )
    # Building the workspaces is a phase of its own (minutes for a large scan), then the scan.
    built = [d for label, d, _ in calls if label == "scan zp: workspaces"]
    assert built == list(range(1, 12))
    calls = [c for c in calls if c[0] != "scan zp: workspaces"]
    assert {label for label, _, _ in calls} == {"scan zp"}
    assert {total for _, _, total in calls} == {11}
    done = [d for _, d, _ in calls]
    assert done[0] == 0  # announced before the workspaces are written
    assert done[-1] == 11
    assert done == sorted(done)
    finished = [d for d in done if d]
    # Every hypothesis in process; on Dask every finished batch, each counted once.
    assert finished == list(range(1, 12)) if not on_dask else len(set(finished)) == len(finished)
    assert len(finished) > 2
