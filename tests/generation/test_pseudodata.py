"""Pseudo-data: Poisson counts at sigma x L, no MC truth, unweighting, signal injection."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from belleflow.beams import get_machine
from belleflow.catalogue import load_catalogue
from belleflow.generation.production import produce
from belleflow.generation.pseudodata import (
    Component,
    InjectedSignal,
    draw_counts,
    expected_composition,
    generate_mixture,
    unweighted,
)
from belleflow.generation.truth import GeneratorContext, TruthEvents
from belleflow.ntuple import check_file
from belleflow.processes import PROCESSES

CATALOGUE = """
name: tiny
data:
  - name: b2_4S
    experiment: Belle II
    machine: SuperKEKB
    ecms: 10.58
    luminosity: 0.001
    luminosity_source: test
    experiments: [7, 8]
simulation:
  - name: b2_ee
    process: ee
    stands_for: [b2_4S]
    events: 400
    filter_efficiency: 0.01
    filter: toy filter
"""


def single(
    pdg: int, n: int, rng: np.random.Generator, weight: np.ndarray | None = None
) -> TruthEvents:
    """One particle per event along +y with energy 1-5 GeV (a marker for the process)."""
    e = rng.uniform(1.0, 5.0, n)
    flat = {
        "PDG": np.full(n, pdg),
        "mother": np.full(n, -1),
        "px": np.zeros(n),
        "py": e,
        "pz": np.zeros(n),
        "E": e,
        "prodVertexX": np.zeros(n),
        "prodVertexY": np.zeros(n),
        "prodVertexZ": np.zeros(n),
    }
    return TruthEvents(
        ak.unflatten(ak.zip(flat), np.ones(n, dtype=np.int64)),
        np.ones(n) if weight is None else weight,
    )


def toy_mumu(n: int, context: GeneratorContext) -> TruthEvents:
    return single(13, n, context.rng)


def toy_ee(n: int, context: GeneratorContext) -> TruthEvents:
    return single(11, n, context.rng)


def toy_signal(n: int, context: GeneratorContext) -> TruthEvents:
    return single(2212, n, context.rng)


def toy_weighted(n: int, context: GeneratorContext) -> TruthEvents:
    truth = single(211, n, context.rng)
    energy = ak.to_numpy(ak.flatten(truth.particles.E))
    return TruthEvents(truth.particles, (energy - 1.0) / 4.0)  # weight rises with E


GENERATORS = {"mumu": toy_mumu, "ee": toy_ee, "_test_pseudodata_signal": toy_signal}


@pytest.fixture
def catalogue_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(CATALOGUE)
    return path


def test_expected_composition_uses_cross_sections_and_filters(catalogue_file: Path) -> None:
    catalogue = load_catalogue(catalogue_file)
    view = catalogue.sample("b2_4S")
    expected, missing = expected_composition(catalogue, view, GENERATORS)
    by_name = {e.process: e for e in expected}
    assert set(by_name) == {"mumu", "ee"}
    assert set(missing) == set(PROCESSES) - {"mumu", "ee"}
    assert by_name["mumu"].expected == pytest.approx(1.148e6 * 0.001)
    assert by_name["ee"].expected == pytest.approx(300e6 * 0.01 * 0.001)


def test_counts_are_poisson(catalogue_file: Path) -> None:
    catalogue = load_catalogue(catalogue_file)
    expected, _ = expected_composition(catalogue, catalogue.sample("b2_4S"), GENERATORS)
    rng = np.random.default_rng(1)
    draws = np.array([draw_counts(expected, rng)["mumu"] for _ in range(400)])
    mean = expected[0].expected if expected[0].process == "mumu" else expected[1].expected
    assert abs(draws.mean() - mean) < 4 * np.sqrt(mean / len(draws))
    assert 0.8 < draws.var() / mean < 1.2


def test_pseudo_data_files(catalogue_file: Path, tmp_path: Path) -> None:
    report = produce(
        catalogue_file,
        samples="b2_4S",
        data_root=tmp_path,
        progress=False,
        workers=1,
        generators=GENERATORS,
        data_events_per_file=3000,
    )
    assert len(report.files) == 2  # about 4150 events in files of at most 3000
    total = 0
    for result in report.files:
        meta = check_file(result.path)
        assert meta.kind == "data"
        assert meta.process == "data"
        comps = meta.generator["components"]
        # The sample's Poisson count per process is consistent with sigma x L.
        for name in ("mumu", "ee"):
            c = comps[name]
            assert abs(c["sample_events"] - c["expected"]) < 5 * np.sqrt(c["expected"])
        assert meta.generator["injected_signal"] is None
        with uproot.open(result.path) as file:
            tree = file["events"]
            names = set(tree.keys())
            assert not any(k.startswith("MCParticle") or k.endswith("mcIndex") for k in names)
            content = tree.arrays(["__weight__", "__experiment__", "Track_px"], library="np")
        assert np.all(content["__weight__"] == 1.0)
        assert set(np.unique(content["__experiment__"])) <= {7, 8}
        total += meta.n_events
    assert total == sum(c["sample_events"] for c in comps.values())
    # The file mixes the processes: muons and electrons alternate, not in blocks.
    with uproot.open(report.files[0].path) as file:
        electron_like = file["events"]["Track_clusterE"].array()
    flags = ak.to_numpy(ak.fill_none(ak.firsts(electron_like, axis=1), -1.0)) > 0.5
    assert np.count_nonzero(np.diff(flags.astype(int))) > 100


def test_injected_signal_recorded_in_metadata_only(catalogue_file: Path, tmp_path: Path) -> None:
    plain = produce(
        catalogue_file,
        samples="b2_4S",
        data_root=tmp_path / "a",
        progress=False,
        workers=1,
        generators=GENERATORS,
    )
    inject = InjectedSignal("_test_pseudodata_signal", 1.5, n_events=120)
    injected = produce(
        catalogue_file,
        samples="b2_4S",
        data_root=tmp_path / "b",
        progress=False,
        workers=1,
        generators=GENERATORS,
        inject=inject,
    )
    meta = check_file(injected.files[0].path)
    info = meta.generator["injected_signal"]
    assert info["model"] == "_test_pseudodata_signal"
    assert info["mass"] == 1.5
    assert info["events_in_sample"] == 120
    assert meta.n_events == check_file(plain.files[0].path).n_events + 120
    with uproot.open(plain.files[0].path) as a, uproot.open(injected.files[0].path) as b:
        assert set(a["events"].keys()) == set(b["events"].keys())
    # Injection by cross section: Poisson with mean sigma x L = 0.5 fb x 0.001 fb^-1 x 1e6.
    by_xsec = InjectedSignal.parse("_test_pseudodata_signal:1.5:0:500000fb")
    assert by_xsec.cross_section_fb == 500000.0
    report = produce(
        catalogue_file,
        samples="b2_4S",
        data_root=tmp_path / "c",
        progress=False,
        workers=1,
        generators=GENERATORS,
        inject=by_xsec,
    )
    n = check_file(report.files[0].path).generator["injected_signal"]["events_in_sample"]
    assert abs(n - 500) < 5 * np.sqrt(500)


def test_parse_injected_signal() -> None:
    s = InjectedSignal.parse("zprime_lmu_ltau:1.5:200")
    assert (s.model, s.mass, s.ctau, s.n_events) == ("zprime_lmu_ltau", 1.5, 0.0, 200)
    with pytest.raises(ValueError, match="MODEL:MASS"):
        InjectedSignal.parse("zprime")
    with pytest.raises(ValueError, match="cannot parse"):
        InjectedSignal.parse("zprime:heavy:10")


def test_unweighting_follows_the_weights() -> None:
    rng = np.random.default_rng(4)
    context = GeneratorContext(machine=get_machine("Belle II"), rng=rng)
    truth = unweighted(toy_weighted, 20_000, context)
    assert len(truth) == 20_000
    assert np.all(truth.weight == 1.0)
    energy = ak.to_numpy(ak.flatten(truth.particles.E))
    # Density proportional to (E - 1) on [1, 5]: mean 1 + 2/3 x 4.
    assert abs(energy.mean() - (1.0 + 8.0 / 3.0)) < 0.03


def test_mixture_is_shuffled_and_complete() -> None:
    rng = np.random.default_rng(5)
    comps = [Component("mumu", "mumu", 300), Component("ee", "ee", 700)]
    chunks = list(generate_mixture(comps, GENERATORS, get_machine("Belle II"), rng, chunk_size=128))
    pdg = np.concatenate([ak.to_numpy(ak.flatten(c.particles.PDG)) for c in chunks])
    assert (pdg == 13).sum() == 300
    assert (pdg == 11).sum() == 700
    assert np.count_nonzero(np.diff(pdg)) > 200
