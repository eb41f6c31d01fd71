"""``belleflow import-basf2``, and a channel run end to end on imported files."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from belleflow.cli import app
from belleflow.ntuple import check_file
from belleflow.training.samples import make_sample, open_sample

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "processors"))
four_muon = pytest.importorskip("belleflow_channels.four_muon")

N_EVENTS = 300
Write = Callable[..., Path]
Read = Callable[[Path], dict[str, Any]]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def list_options(trees: dict[str, str], *, simulation: bool) -> list[str]:
    options = []
    for collection, tree in trees.items():
        if simulation or collection != "MCParticle":
            options += ["--list", f"{tree}={collection}"]
    return options


def catalogue_entry(output: str) -> dict[str, Any]:
    """The YAML the command prints after its report."""
    entry = yaml.safe_load(output.split("replace FILL IN):\n", 1)[1])
    assert isinstance(entry, dict)
    return entry


def test_import_prints_what_it_did(
    events_maker: Callable[..., dict[str, Any]],
    write_basf2_file: Write,
    basf2_trees: dict[str, str],
    tmp_path: Path,
) -> None:
    events = events_maker(50, seed=2)
    source = write_basf2_file("job_1.root", events, layout="candidate", simulation=True)
    out = tmp_path / "b2_mumu"
    args = ["import-basf2", str(source), "--out", str(out), "--kind", "simulation"]
    result = invoke(*args, "--process", "mumu", *list_options(basf2_trees, simulation=True))
    assert result.exit_code == 0, result.output
    assert check_file(out / "job_1.root").sample == "b2_mumu"
    assert "Track: tree 'muons'" in result.output
    assert "not imported from 'muons' (no belleflow branch): E, useCMSFrame(p)" in result.output
    entry = catalogue_entry(result.output)["simulation"][0]
    assert entry["name"] == "b2_mumu"
    assert entry["process"] == "mumu"
    assert entry["events"] == 50
    assert entry["files"] == [str(out.resolve() / "*.root")]
    assert entry["stands_for"][0].startswith("FILL IN")


def test_import_errors(
    events_maker: Callable[..., dict[str, Any]],
    write_basf2_file: Write,
    basf2_trees: dict[str, str],
    tmp_path: Path,
) -> None:
    good = write_basf2_file("good.root", events_maker(20), layout="event", simulation=False)
    bad = tmp_path / "bad.root"
    bad.write_bytes(b"\x00" * 100)
    out = tmp_path / "out"
    lists = list_options(basf2_trees, simulation=False)
    result = invoke(
        "import-basf2", str(bad), str(good), "--out", str(out), "--luminosity", "0.5", *lists
    )
    assert result.exit_code == 1
    assert f"error: {bad}: not a ROOT file" in result.output
    assert "1 of 2 file(s) not imported" in result.output
    assert check_file(out / "good.root").n_events == 20  # the good file is converted anyway
    assert catalogue_entry(result.stdout)["data"][0]["luminosity"] == 0.5
    result = invoke("import-basf2", str(good), "--out", str(out), "--list", "muons=Tracks")
    assert result.exit_code == 2
    assert "use TREE=COLLECTION" in result.output
    result = invoke("import-basf2", str(good), "--out", str(out), "--kind", "mc")
    assert result.exit_code == 2


CATALOGUE = """\
name: basf2-import
data_root: .
data:
  - {name: b2data, experiment: Belle II, machine: SuperKEKB, ecms: 10.58, luminosity: 0.5,
     luminosity_source: test, files: ["data/*.root"]}
simulation:
  - {name: b2_4mu, process: mumumumu, stands_for: [b2data], events: 300, files: ["mc/*.root"]}
skims:
  - {name: lowmult, processes: [mumumumu], channels: [four_muon]}
"""


def _cutflow(path: Path, kind: str) -> dict[str, float]:
    output = four_muon.channel.make_processor().process(open_sample(path, kind=kind))
    (cuts,) = output["cutflow"].values()
    return {cut: float(v[0]) for cut, v in cuts.items()}


def test_four_muon_sees_the_imported_events(
    write_basf2_file: Write,
    read_ntuple: Read,
    basf2_trees: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Four-muon events through belleflow's detector simulation, written as a
    # basf2 steering file would (data: event-based trees; simulation: one row
    # per candidate), imported, catalogued and run.
    reference = make_sample(tmp_path / "reference.root", "mumumumu", N_EVENTS, seed=21)
    events = read_ntuple(reference)
    for kind, layout in (("data", "event"), ("simulation", "candidate")):
        sim = kind == "simulation"
        source = write_basf2_file(f"{kind}_job.root", events, layout=layout, simulation=sim)
        folder = tmp_path / ("mc" if sim else "data")
        args = ["import-basf2", str(source), "--out", str(folder), "--kind", kind]
        args += ["--process", "mumumumu"] if sim else []
        result = invoke(*args, *list_options(basf2_trees, simulation=sim))
        assert result.exit_code == 0, result.output

    # The channel selects exactly what it selects on the reference file.
    want = _cutflow(reference, "simulation")
    assert want["all"] == N_EVENTS
    assert min(want.values()) > 0
    assert _cutflow(tmp_path / "mc" / "simulation_job.root", "simulation") == want

    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(CATALOGUE)
    monkeypatch.setenv("BELLEFLOW_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    result = invoke(
        "run", "four_muon", "--catalogue", str(catalogue), "--executor", "iterative",
        "--out", str(out), "--no-progress", "--unblind", "test: data compared with the reference",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "four_muon" / "report.json").read_text())
    assert report["complete"] is True
    assert report["events"]["read"] == 2 * N_EVENTS
    # Both imported samples, data and simulation, pass every cut like the reference.
    for sample in ("b2data", "b2_4mu"):
        assert {cut: raw for cut, (raw, _) in report["cutflow"][sample].items()} == want
