"""``benchmarks/bench_scaling.py``: the chunk size of the efficiency runs and its granularity cap."""

from __future__ import annotations

import doctest
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import uproot

from belleflow.catalogue import load_catalogue
from belleflow.channels import load_channel
from belleflow.generation.production import produce
from belleflow.ntuple import TREE_NAME

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def scaling() -> Iterator[ModuleType]:
    """``bench_scaling.py``, imported as the script is (``bench_throughput`` beside it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        yield importlib.import_module("bench_scaling")
    for name in ("bench_scaling", "bench_throughput"):
        sys.modules.pop(name, None)


def test_docstring_examples(scaling: ModuleType) -> None:
    for module in (scaling, sys.modules["bench_throughput"]):
        result = doctest.testmod(module, report=True)
        assert result.attempted > 0, module.__name__
        assert result.failed == 0, module.__name__


def test_granularity_cap(scaling: ModuleType) -> None:
    cap = scaling.granularity_cap
    # The large four-muon run: the token data chunk, then ten chunks of 100,000 events.
    assert cap([387.0] + [1e5] * 10, 2) == pytest.approx(1.0, abs=1e-3)
    assert cap([1e5] * 11, 2) == pytest.approx(11 / 12)
    assert cap([5e4] * 21, 2) == pytest.approx(21 / 22)
    # A large chunk last waits for the workers to be free: it sets the end alone.
    assert cap([1.0, 1.0, 2.0], 2) == pytest.approx(4 / 6)
    assert cap([7.0], 1) == 1.0


def test_chunk_size_reaches_the_plan_and_the_runs(
    scaling: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert scaling.parser().parse_args([]).chunk_size == 100_000
    args = scaling.parser().parse_args(["--chunk-size", "500"])
    assert args.chunk_size == 500
    catalogue = tmp_path / "small.yaml"
    catalogue.write_text(
        "name: small\ndata_root: .\ndata:\n"
        "  - {name: b2data, experiment: Belle II, machine: SuperKEKB, ecms: 10.58,"
        " luminosity: 1.0e-6, luminosity_source: test}\n"
        "simulation:\n  - {name: b2_mumumumu, process: mumumumu, stands_for: [b2data],"
        " events: 1000}\n"
        "skims:\n  - {name: lowmult, processes: [mumumumu]}\n"
    )
    produce(catalogue, workers=1, progress=False)
    with uproot.open(next((tmp_path / "data" / "b2data").glob("*.root"))) as file:
        data = file[TREE_NAME].num_entries
    assert 0 < data < 500
    # Plan order: the data file, then the simulation file in two chunks of 500 events.
    assert scaling.chunk_events("four_muon", catalogue, args.chunk_size) == [data, 500, 500]
    assert scaling.chunk_events("four_muon", catalogue, 100_000) == [data, 1000]

    seen: dict[str, Any] = {}

    class Result:
        def __init__(self) -> None:
            self.reports = {"four_muon": {"timing": {"processing_s": 1.0}, "events": {"read": 9}}}

    def run_channels(channels: list[str], **kwargs: Any) -> Result:
        seen.update(kwargs, channels=channels)
        return Result()

    monkeypatch.setattr("belleflow.engine.run_channels", run_channels)
    timed = scaling.timed_run("four_muon", catalogue, None, args.chunk_size)
    assert seen["chunksize"] == 500
    assert seen["channels"] == ["four_muon"]
    assert timed["events"] == 9


def test_every_channel_has_a_large_sample_for_its_memory_measurement(
    scaling: ModuleType, tmp_path: Path
) -> None:
    catalogue = tmp_path / "large.yaml"
    catalogue.write_text(sys.modules["bench_throughput"].LARGE_CATALOGUE.format(root=tmp_path))
    cat = load_catalogue(catalogue)
    for name in ("four_muon", "mumu_tautau", "tautau_phil", "dark_higgsstrahlung", "gamma_alp"):
        spec = load_channel(name)
        sample = scaling.LARGE_SAMPLE[spec.skim, spec.experiments[0]]
        assert sample in {v.name for v in cat.skim(spec.skim) if v.experiment in spec.experiments}
