"""``belleflow run`` end to end on fixture files and a temporary catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from belleflow.cli import app
from belleflow.engine import load_histograms

CHANNEL_MODULE = """
import awkward as ak
import hist
from belleflow.processor import Channel, ChannelProcessor


class Dimuon(ChannelProcessor):
    histograms = {"m_mumu": (hist.axis.Regular(30, 8.0, 13.0, name="m_mumu"),)}
    signal_windows = {"m_mumu": ((10.0, 10.5),)}

    def process_chunk(self, events, chunk):
        muons = events.Track[events.Track.muonID > 0.0]
        chunk.cut("two_muons", ak.num(muons) >= 2)
        pair = muons[chunk.cutflow.selection][:, 0] + muons[chunk.cutflow.selection][:, 1]
        chunk.fill("m_mumu", m_mumu=pair.mass)


channel = Channel("dimuon", "test", "lowmult", ("Belle II",), Dimuon)
"""

CATALOGUE = """\
name: cli-test
data_root: .
data:
  - {name: b2data, experiment: Belle II, machine: SuperKEKB, ecms: 10.58, luminosity: 0.01,
     luminosity_source: test}
simulation:
  - {name: b2mumu, process: mumu, stands_for: [b2data], events: 300}
skims:
  - {name: lowmult, processes: [mumu]}
"""


@pytest.fixture
def setup(make_ntuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BELLEFLOW_CACHE", str(tmp_path / "cache"))
    for folder, simulation in (("data/b2data", False), ("mc/b2mumu", True)):
        (tmp_path / folder).mkdir(parents=True)
        for i in range(2):
            make_ntuple(
                f"{folder}/f{i}.root",
                n_events=150,
                seed=i + 5,
                simulation=simulation,
                sample=folder.split("/")[1],
            )
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(CATALOGUE)
    module = tmp_path / "dimuon_channel.py"
    module.write_text(CHANNEL_MODULE)
    return catalogue, f"{module}:channel"


def invoke(*args: str) -> object:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_run_end_to_end(setup: tuple[Path, str], tmp_path: Path) -> None:
    catalogue, channel = setup
    out = tmp_path / "out"
    result = invoke(
        "run", channel, "--catalogue", str(catalogue), "--executor", "iterative",
        "--chunksize", "60", "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "dimuon: 600/600 events" in result.output  # type: ignore[attr-defined]
    report = json.loads((out / "dimuon" / "report.json").read_text())
    assert report["complete"] is True
    assert report["executor"] == "iterative"
    assert report["events"]["read"] == 600
    assert "run" in report["command_line"] or report["command_line"]
    histograms = load_histograms(out / "dimuon" / "histograms.json")
    assert list(histograms["m_mumu"].axes["process"]) == ["data", "mumu"]
    assert (out / "dimuon" / "histograms.root").is_file()

    # A quick look is incomplete by choice: exit code 0, the report says so.
    result = invoke(
        "run", channel, "--catalogue", str(catalogue), "--executor", "iterative",
        "--chunksize", "60", "--maxchunks", "1", "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0
    report = json.loads((out / "dimuon" / "report.json").read_text())
    assert report["incomplete_reason"] == "maxchunks (incomplete by choice)"


def test_run_bad_file_exit_codes(setup: tuple[Path, str], tmp_path: Path) -> None:
    catalogue, channel = setup
    bad = tmp_path / "mc" / "b2mumu" / "f1.root"
    bad.write_bytes(b"not a ROOT file")
    args = ["run", channel, "--catalogue", str(catalogue), "--executor", "iterative"]
    args += ["--out", str(tmp_path / "out"), "--no-progress"]
    result = invoke(*args)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert str(bad) in result.output  # type: ignore[attr-defined]
    result = invoke(*args, "--skip-bad-files")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    report = json.loads((tmp_path / "out" / "dimuon" / "report.json").read_text())
    assert report["complete"] is False
    assert report["incomplete_reason"] == "skip-bad-files (incomplete by choice)"
    assert report["bad_files"][0]["path"] == str(bad)


def test_run_usage_errors(setup: tuple[Path, str]) -> None:
    catalogue, channel = setup
    assert invoke("run").exit_code == 2  # type: ignore[attr-defined]
    result = invoke("run", channel, "--catalogue", str(catalogue), "--adaptive", "5")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "MIN:MAX" in result.output  # type: ignore[attr-defined]
    result = invoke("run", "no_such_channel", "--catalogue", str(catalogue))
    assert result.exit_code == 2  # type: ignore[attr-defined]


def test_run_help() -> None:
    result = invoke("run", "--help")
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert "--skip-bad-files" in result.output  # type: ignore[attr-defined]


def run_args(catalogue: Path, channel: str, out: Path, *extra: str) -> list[str]:
    return [
        "run", channel, "--catalogue", str(catalogue), "--executor", "iterative",
        "--chunksize", "60", "--out", str(out), "--no-progress", *extra,
    ]  # fmt: skip


def test_limits_refuses_an_incomplete_run(
    setup: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogue, channel = setup
    out = tmp_path / "out"
    assert invoke(*run_args(catalogue, channel, out, "--maxchunks", "1")).exit_code == 0  # type: ignore[attr-defined]
    report = json.loads((out / "dimuon" / "report.json").read_text())
    assert report["complete"] is False
    calls: list[str] = []
    monkeypatch.setattr(
        "belleflow.limits.compute_channel_limits",
        lambda name, *_args, **_kwargs: calls.append(name) or [],
    )
    monkeypatch.setattr("belleflow.cli.limits._models_for", lambda *_args: {})
    result = invoke("limits", "dimuon", "--in", str(out))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    # One chunk in all: 75 of the data's 300 events, none of the simulation's.
    assert "the run is incomplete (maxchunks (incomplete by choice), 75/600 events)" in " ".join(
        result.output.split()  # type: ignore[attr-defined]
    )
    assert calls == []
    result = invoke("limits", "dimuon", "--in", str(out), "--allow-incomplete")
    assert calls == ["dimuon"], result.output  # type: ignore[attr-defined]


@pytest.fixture
def complete_run(setup: tuple[Path, str], tmp_path: Path) -> tuple[Path, str, Path]:
    """``(catalogue, channel, out)`` after a complete run into ``out``."""
    catalogue, channel = setup
    out = tmp_path / "out"
    assert invoke(*run_args(catalogue, channel, out)).exit_code == 0  # type: ignore[attr-defined]
    assert json.loads((out / "dimuon" / "report.json").read_text())["complete"] is True
    return catalogue, channel, out


def test_failed_run_replaces_a_complete_one_with_its_failure(
    complete_run: tuple[Path, str, Path], tmp_path: Path
) -> None:
    catalogue, channel, out = complete_run
    bad = tmp_path / "mc" / "b2mumu" / "f1.root"
    bad.write_bytes(b"not a ROOT file")
    result = invoke(*run_args(catalogue, channel, out))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    report = json.loads((out / "dimuon" / "report.json").read_text())
    assert report["complete"] is False
    assert report["incomplete_reason"] == "failed"
    assert str(bad) in report["error"]
    # No histogram of the previous run is left to pass for this one.
    assert sorted(p.name for p in (out / "dimuon").iterdir()) == ["report.json"]
    assert not list(out.glob(".dimuon.*"))


def test_resume_with_other_samples_does_not_replace_a_complete_run(
    complete_run: tuple[Path, str, Path],
) -> None:
    catalogue, channel, out = complete_run
    before = {p.name: p.read_bytes() for p in (out / "dimuon").iterdir()}
    result = invoke(*run_args(catalogue, channel, out, "--resume", "--sample", "b2data"))
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert "holds a complete run of another configuration" in result.output  # type: ignore[attr-defined]
    assert {p.name: p.read_bytes() for p in (out / "dimuon").iterdir()} == before
    # The same selection resumes (here: reruns) without complaint.
    assert invoke(*run_args(catalogue, channel, out, "--resume")).exit_code == 0  # type: ignore[attr-defined]


def test_bad_catalogue_is_named(setup: tuple[Path, str], tmp_path: Path) -> None:
    _, channel = setup
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: " + "[" * 5000 + "]" * 5000)
    result = invoke("run", channel, "--catalogue", str(deep), "--executor", "iterative")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert f"error: {deep}: line 1" in result.output  # type: ignore[attr-defined]


def test_unblind_needs_a_reason_and_records_it(setup: tuple[Path, str], tmp_path: Path) -> None:
    catalogue, channel = setup
    out = tmp_path / "out"
    result = invoke(*run_args(catalogue, channel, out, "--unblind", " "))
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "unblinding needs a reason" in result.output  # type: ignore[attr-defined]
    reason = "approved by the review committee on 2026-11-30"
    assert invoke(*run_args(catalogue, channel, out, "--unblind", reason)).exit_code == 0  # type: ignore[attr-defined]
    report = json.loads((out / "dimuon" / "report.json").read_text())
    assert report["blinding"]["blinded"] is False
    assert report["blinding"]["unblind_reason"] == reason
    assert report["configuration"]["unblind"] is True
    assert list(report["cutflow"]["b2data"]) == ["all", "two_muons"]
    assert invoke(*run_args(catalogue, channel, out)).exit_code == 0  # type: ignore[attr-defined]
    report = json.loads((out / "dimuon" / "report.json").read_text())
    assert report["blinding"]["blinded"] is True
    # Blinded: the data cutflow stops before the signal-region cut (the last one).
    assert list(report["cutflow"]["b2data"]) == ["all"]
    assert list(report["cutflow"]["b2mumu"]) == ["all", "two_muons"]
