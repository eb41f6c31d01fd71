"""``belleflow demo`` end to end: generate, run on a LocalCluster, limits, summary."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from belleflow.cli import app

DATASETS = Path(__file__).parents[2] / "datasets"


def test_demo_runs_the_whole_chain(tmp_path: Path) -> None:
    # The full catalogue at a tiny fraction: the same code path as the demo, in seconds.
    catalogue = tmp_path / "tiny.yaml"
    catalogue.write_text(
        f"extends: {DATASETS / 'belleflow.yaml'}\n"
        "name: tiny-demo\n"
        "scale: 1.0e-7\n"
        f"data_root: {tmp_path / 'data'}\n"
        "signal_events_per_point: 300\n"
    )
    out = tmp_path / "out"
    args = ["demo", "--catalogue", str(catalogue), "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(app, [*args, "--channel", "gamma_alp", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "synthetic production" in result.output
    assert "belleflow demo: limits per channel and signal model" in result.output

    report = json.loads((out / "gamma_alp" / "report.json").read_text())
    assert report["complete"]
    assert report["events"]["read"] == report["events"]["expected"] > 0
    limits = json.loads((out / "gamma_alp" / "limits.json").read_text())
    # The run was not unblinded: the limits are expected ones, from Asimov data.
    assert limits["blinded"]
    medians = [p["expected_converted"][2] for p in limits["points"]]
    assert medians
    assert all(m > 0 for m in medians)
    assert (out / "gamma_alp" / "brazil.png").stat().st_size > 0
    # The last line names the report, which has the channel's figures embedded.
    assert result.output.strip().splitlines()[-1] == f"report: {(out / 'report.html').resolve()}"
    page = (out / "report.html").read_text()
    assert 'id="gamma_alp"' in page
    assert page.count("<img ") >= 6
