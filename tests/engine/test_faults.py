"""Faults end cleanly: an unreachable scheduler, SIGINT, a killed worker, --no-progress.

The command line runs in a real subprocess (its own process group, as in a
terminal), so that signals, Dask's worker processes and everything printed
are the real ones.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from belleflow.engine import load_histograms, run_channels
from belleflow.engine.executors import local_cluster


def test_unreachable_scheduler_is_one_line_within_10_s(
    small_catalogue: Path, slow_channel: str, tmp_path: Path, belleflow: Any
) -> None:
    tic = time.perf_counter()
    process = belleflow(
        "run", slow_channel, "--catalogue", str(small_catalogue),
        "--executor", "tcp://127.0.0.1:1", "--out", str(tmp_path / "out"),
    )  # fmt: skip
    out, err = process.communicate(timeout=60)
    elapsed = time.perf_counter() - tic
    assert process.returncode == 1, err
    assert elapsed < 10.0
    assert "Traceback" not in out + err
    [line] = err.strip().splitlines()
    assert line.startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:1")


@pytest.mark.slow
def test_sigint_stops_reports_and_resume_continues(
    small_catalogue: Path, slow_channel: str, tmp_path: Path, belleflow: Any
) -> None:
    out = tmp_path / "out"
    args = ["run", slow_channel, "--catalogue", str(small_catalogue), "--executor", "local"]
    args += ["--workers", "1", "--chunksize", "40", "--out", str(out), "--no-progress"]
    process = belleflow(*args, env={"SLOW_CHANNEL_SECONDS": "0.4"})
    stored = out / ".checkpoints" / "slow"
    deadline = time.monotonic() + 120
    while len(list(stored.rglob("*.json"))) < 3:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    # Nor the workers' warnings for each task the client cancelled (IgnoreInterruptsPlugin).
    assert "CancelledError" not in stdout + stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted: the report in")
    report = json.loads((out / "slow" / "report.json").read_text())
    assert report["complete"] is False
    assert report["incomplete_reason"] == "interrupted"
    assert not (out / "slow" / "histograms.json").exists()

    done = len(list(stored.rglob("*.json")))
    resumed = belleflow(*args, "--resume")
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    report = json.loads((out / "slow" / "report.json").read_text())
    assert report["complete"] is True
    assert report["chunks"]["resumed"] >= min(done, 3)
    reference = run_channels(
        [slow_channel], catalogue=small_catalogue, executor="iterative", chunksize=40,
        out=None, progress=False, echo=lambda _: None,
    )["slow"]  # fmt: skip
    for name, h in load_histograms(out / "slow").items():
        np.testing.assert_array_equal(
            h.values(flow=True), reference.histograms[name].values(flow=True)
        )


@pytest.mark.slow
def test_a_killed_worker_is_reported_and_changes_nothing(
    small_catalogue: Path, slow_channel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = run_channels(
        [slow_channel], catalogue=small_catalogue, executor="iterative", chunksize=100,
        out=None, progress=False, echo=lambda _: None,
    )["slow"]  # fmt: skip
    marker = tmp_path / "killed"
    monkeypatch.setenv("SLOW_CHANNEL_KILL_MARKER", str(marker))
    lines: list[str] = []
    # Workers inherit the environment: the first chunk kills its worker once.
    with local_cluster(2, dashboard_address="127.0.0.1:0", memory_limit="2GiB") as cluster:
        import distributed  # noqa: PLC0415

        with distributed.Client(cluster) as client:
            result = run_channels(
                [slow_channel], catalogue=small_catalogue, client=client, chunksize=100,
                out=tmp_path / "out", progress=False, echo=lines.append,
            )["slow"]  # fmt: skip
    assert marker.exists()
    report = result.report
    assert report["complete"] is True
    [lost] = report["cluster"]["workers_lost"]
    assert lost["tasks_lost"] >= 1
    assert "1 worker(s) lost" in lines[-1]
    for name, h in result.histograms.items():
        np.testing.assert_array_equal(
            h.values(flow=True), reference.histograms[name].values(flow=True)
        )


@pytest.mark.parametrize("executor", ["iterative", "futures"])
def test_no_progress_prints_no_bar(
    small_catalogue: Path, slow_channel: str, tmp_path: Path, executor: str, belleflow: Any
) -> None:
    process = belleflow(
        "run", slow_channel, "--catalogue", str(small_catalogue), "--executor", executor,
        "--workers", "2", "--chunksize", "100", "--out", str(tmp_path / "out"), "--no-progress",
    )  # fmt: skip
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    lines = (stdout + stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("slow: 1485/1485 events")
