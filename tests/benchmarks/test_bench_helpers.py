"""The benchmarks' helpers: the I/O-only column set and the RDataFrame comparison."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from belleflow.catalogue import load_catalogue
from belleflow.channels import load_channel
from belleflow.ntuple import TREE_NAME
from belleflow.processor import DeclaredProcessor
from belleflow.training.samples import make_sample, open_sample

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
#: What the four-muon selection needs at least (the RDataFrame implementation reads these).
SELECTION_BRANCHES = {
    *(f"Track_{v}" for v in ("px", "py", "pz", "charge", "dr", "dz", "muonID", "electronID")),
    *(f"Photon_{v}" for v in ("px", "py", "pz", "E")),
    "beamE", "beamPx", "beamPy", "beamPz",
}  # fmt: skip


@pytest.fixture(scope="module")
def benchmarks() -> Iterator[dict[str, ModuleType]]:
    """``benchmarks/bench_rdataframe.py`` and ``bench_throughput.py``, imported as scripts are."""
    names = ("bench_rdataframe", "bench_throughput")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        yield {name: importlib.import_module(name) for name in names}
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture
def bench(benchmarks: dict[str, ModuleType]) -> ModuleType:
    """The RDataFrame benchmark."""
    return benchmarks["bench_rdataframe"]


@pytest.fixture
def throughput(benchmarks: dict[str, ModuleType]) -> ModuleType:
    """The throughput benchmark (the I/O-only column set)."""
    return benchmarks["bench_throughput"]


@pytest.fixture(scope="module")
def four_muons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 e+e- -> mu+mu-mu+mu- events through the production's detector simulation."""
    return make_sample(tmp_path_factory.mktemp("bench") / "4mu.root", "mumumumu", 300, seed=3)


def _chunk(path: Path) -> dict[str, Any]:
    meta = {"dataset": "4mu", "kind": "simulation", "process": "mumumumu", "weight": 1.0,
            "experiment": "Belle II", "machine": "SuperKEKB", "unblind": False,
            "filename": str(path)}  # fmt: skip
    return {"path": str(path), "start": 0, "stop": 300, "meta": meta}


def _keep_only(source: Path, branches: list[str], target: Path) -> None:
    """A copy of ``source`` holding only ``branches`` (collections keep their counters)."""
    with uproot.open(source) as file:
        arrays = file[TREE_NAME].arrays(branches, how=dict)
    content: dict[str, Any] = {}
    for name, values in arrays.items():
        collection, _, variable = name.partition("_")
        if values.ndim > 1 and variable:
            content.setdefault(collection, {})[variable] = values
        else:
            content[name] = ak.to_numpy(values)
    for name, value in content.items():
        if isinstance(value, dict):
            content[name] = ak.zip(value, depth_limit=2)
    with uproot.recreate(target) as out:
        types = {k: v.dtype if isinstance(v, np.ndarray) else v.type.content
                 for k, v in content.items()}  # fmt: skip
        out.mktree(TREE_NAME, types)
        out[TREE_NAME].extend(content)


def test_branches_read_maps_access_log_keys_to_branches(throughput: ModuleType) -> None:
    class Accessed:
        def __init__(self, branch: str) -> None:
            self.branch = branch

    keys = ["Track_px-offsets", "Track_px-data", "beamE-data", Accessed("Photon_E")]
    assert throughput.branches_read(keys) == ["Photon_E", "Track_px", "beamE"]


def test_io_only_columns_are_what_four_muon_reads(
    throughput: ModuleType, four_muons: Path, tmp_path: Path
) -> None:
    columns = throughput.channel_columns("four_muon", four_muons)
    assert set(columns) >= SELECTION_BRANCHES
    with uproot.open(four_muons) as file:
        assert set(columns) < set(file[TREE_NAME].keys())  # a subset, not everything
    # Enough: on a file holding only these branches the channel gives the same output.
    only = tmp_path / "only.root"
    _keep_only(four_muons, columns, only)
    processor = load_channel("four_muon").make_processor()
    full = processor.process(open_sample(four_muons, sample="4mu"))
    reduced = processor.process(open_sample(only, sample="4mu"))
    assert full["cutflow"]["4mu"]["no_extra_energy"][0] > 0  # the selection is exercised
    for name in full["cutflow"]["4mu"]:
        np.testing.assert_array_equal(full["cutflow"]["4mu"][name], reduced["cutflow"]["4mu"][name])
    np.testing.assert_array_equal(
        full["histograms"]["m_mumu"].values(flow=True),
        reduced["histograms"]["m_mumu"].values(flow=True),
    )


def test_reference_is_belleflows_selection_before_the_classifier(
    bench: ModuleType, four_muons: Path
) -> None:
    reference = bench.belleflow_reference([_chunk(four_muons)])
    assert list(reference["cutflow"]) == list(bench.STEPS)
    processor = load_channel("four_muon").make_processor()
    cutflow = processor.process(open_sample(four_muons, sample="4mu"))["cutflow"]["4mu"]
    for step in bench.STEPS[:-1]:
        assert reference["cutflow"][step] == cutflow[step][0], step
    # The classifier removes candidates: its step is below the candidates it is given.
    assert 0 < cutflow["candidate"][0] < reference["cutflow"]["candidate"]
    # The framework's unclassified fill puts candidates (positive weights) in the same bins.
    unclassified = DeclaredProcessor(load_channel("four_muon"), classify=False)
    filled = unclassified.process(open_sample(four_muons, sample="4mu"))["histograms"]["m_mumu"]
    values = filled[{"dataset": "4mu", "variation": "nominal"}].values()
    counts = np.asarray(reference["histogram"])
    assert counts.sum() >= reference["cutflow"]["candidate"]
    np.testing.assert_array_equal(np.flatnonzero(values), np.flatnonzero(counts))


def test_compare_names_every_difference(bench: ModuleType) -> None:
    a = {"cutflow": {"all": 10, "four_tracks": 4}, "histogram": [1, 2, 0]}
    assert bench.compare(a, a) == []
    b = {"cutflow": {"all": 10, "four_tracks": 5, "extra": 1}, "histogram": [1, 2, 1]}
    assert bench.compare(a, b) == [
        "four_tracks: 4 != 5",
        "extra: None != 1",
        "histogram bin 2: 0 != 1",
    ]
    assert bench.compare(a, {**a, "histogram": [1, 2]}) == ["histogram: 3 bins != 2 bins"]


@pytest.mark.root
def test_rdataframe_selects_the_same_events(bench: ModuleType, four_muons: Path) -> None:
    reference = bench.belleflow_reference([_chunk(four_muons)])
    with pytest.warns(UserWarning, match="alpha"):
        rdf = bench.rdataframe([str(four_muons)])
    assert reference["cutflow"]["candidate"] > 0
    assert bench.compare(reference, rdf) == []


@pytest.mark.parametrize(
    "channel", ["four_muon", "mumu_tautau", "tautau_phil", "dark_higgsstrahlung", "gamma_alp"]
)
def test_every_channel_has_a_large_simulation_file_of_its_experiment(
    throughput: ModuleType, channel: str, tmp_path: Path
) -> None:
    catalogue = tmp_path / "large.yaml"
    catalogue.write_text(throughput.LARGE_CATALOGUE.format(root=tmp_path))
    spec = load_channel(channel)
    views = [
        v
        for v in load_catalogue(catalogue).skim(spec.skim)
        if v.experiment in spec.experiments and v.kind == "simulation"
    ]
    assert [v.events for v in views] == [1_000_000]


def test_large_catalogue_generates_only_the_missing_samples(
    throughput: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The existing samples' files stand for the hour-long productions that must not be redone.
    for folder in ("data/b2data", "mc/b2_mumumumu", "mc/b2_gg"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "existing_00000.root").touch()
    commands: list[list[str]] = []

    def run(command: list[str], **_: Any) -> None:
        commands.append(command)

    monkeypatch.setattr(throughput.subprocess, "run", run)
    path = throughput.large_catalogue(tmp_path)
    assert throughput.missing_samples(path) == ["b1data", "b1_mumutautau"]
    assert [c[1:] for c in commands] == [
        ["generate", str(path), "--samples", name, "--no-progress"]
        for name in ("b1data", "b1_mumutautau")
    ]


@pytest.mark.parametrize("channel", ["tautau_phil", "dark_higgsstrahlung"])
def test_a_channel_with_no_sample_of_its_experiment_is_skipped(
    throughput: ModuleType, channel: str, tmp_path: Path
) -> None:
    catalogue = tmp_path / "belle2.yaml"
    catalogue.write_text(
        "name: belle2-only\ndata_root: .\ndata:\n"
        "  - {name: b2data, experiment: Belle II, machine: SuperKEKB, ecms: 10.58,"
        " luminosity: 1.0e-6, luminosity_source: test}\n"
        "simulation:\n  - {name: b2_mumumumu, process: mumumumu, stands_for: [b2data],"
        " events: 1000}\n"
        "skims:\n  - {name: lowmult, processes: [mumumumu]}\n"
    )
    # No file exists: planning finds no sample of the channel's experiment, so
    # nothing is opened or run.
    result = throughput.measure(
        channel, "large", catalogue, data_root=tmp_path, maxchunks=None, steady_chunks=1
    )
    assert result is None
