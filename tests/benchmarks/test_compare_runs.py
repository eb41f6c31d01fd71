"""benchmarks/compare_runs.py: two runs' histograms and cutflows, bin by bin, exactly."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import hist
import numpy as np
import pytest

from belleflow.engine.outputs import write_histograms_json
from belleflow.processor import book_histogram

TOOL = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_runs.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_runs", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(folder: Path, masses: list[float], cutflow: dict[str, list[float]]) -> Path:
    channel = folder / "toy"
    channel.mkdir(parents=True)
    h = book_histogram((hist.axis.Regular(4, 0.0, 4.0, name="m"),), first="process")
    h.fill(process="signal", variation="nominal", m=np.asarray(masses), weight=0.5)
    write_histograms_json({"m": h}, channel / "histograms.json")
    (channel / "report.json").write_text(json.dumps({"cutflow": {"signal": cutflow}}))
    return folder


def test_identical_runs(
    tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cutflow = {"all": [3.0, 1.5], "mass": [2.0, 1.0]}
    old = _run(tmp_path / "old", [0.5, 1.5, 9.0], cutflow)
    new = _run(tmp_path / "new", [0.5, 1.5, 9.0], cutflow)
    assert tool.main([str(new), str(old)]) == 0
    assert capsys.readouterr().out == "toy: identical\n"


def test_an_event_across_a_bin_edge_and_a_cut(
    tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _run(tmp_path / "old", [0.5, 1.5, 9.0], {"all": [3.0, 1.5], "mass": [2.0, 1.0]})
    new = _run(tmp_path / "new", [0.5, 2.0, 9.0], {"all": [3.0, 1.5], "mass": [3.0, 1.5]})
    assert tool.main([str(new), str(old)]) == 1
    out = capsys.readouterr().out
    assert "toy: 3 differences" in out
    assert "m[signal, nominal] values differ in 2 bins" in out
    assert "m[signal, nominal] variances differ in 2 bins" in out
    assert "cutflow of signal at mass: [3.0, 1.5] != [2.0, 1.0] (+1 events)" in out


def test_a_missing_channel_is_a_difference(
    tool: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _run(tmp_path / "old", [0.5], {"all": [1.0, 0.5]})
    (tmp_path / "new").mkdir()
    assert tool.main([str(tmp_path / "new"), str(old)]) == 1
    assert "toy: no run output in" in capsys.readouterr().out
