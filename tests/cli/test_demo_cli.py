"""``belleflow demo`` end to end: generate, run on a LocalCluster, limits, summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from typer.testing import CliRunner

from belleflow.cli import app

DATASETS = Path(__file__).parents[2] / "datasets"


def test_demo_runs_the_whole_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # stderr counts as a terminal: bars are drawn
    monkeypatch.setenv("TERM", "xterm-256color")
    args = ["demo", "--catalogue", str(catalogue), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--channel", "gamma_alp", "--workers", "1"])
    assert result.exit_code == 0, result.output
    # The run's bar names the channel and counts chunks; the limits' bar names the model.
    plain = click.unstyle(result.stderr)
    assert re.search(r"gamma_alp .*chunk/s", plain)
    assert re.search(r"gamma_alp alp_photon .* (\d+)/\1 .*hypotheses/s", plain)
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
    # (On the terminal rich colours and folds the line: compare the words.)
    words = click.unstyle(result.stdout).split()
    assert words[-2:] == ["report:", str((out / "report.html").resolve())]
    page = (out / "report.html").read_text()
    assert 'id="gamma_alp"' in page
    assert page.count("<img ") >= 6
