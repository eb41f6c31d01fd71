"""Production: planning, determinism, skipping and rewriting, file layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from belleflow.beams import to_lab_arrays
from belleflow.catalogue import default_catalogue_path, load_catalogue
from belleflow.generation.production import (
    ProductionError,
    file_path,
    load_generators,
    produce,
)
from belleflow.generation.truth import GeneratorContext, TruthEvents
from belleflow.ntuple import check_file, read_metadata

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
  - {name: b2_mumu, process: mumu, stands_for: [b2_4S], events: 2500, events_per_file: 1000}
  - name: b2_ee
    process: ee
    stands_for: [b2_4S]
    events: 400
    filter_efficiency: 0.01
    filter: toy filter
signals:
  - name: b2_sig
    channel: toy
    model: _test_production_signal
    stands_for: [b2_4S]
    masses: [1.0, 2.0]
    events_per_point: 300
    parameters: {coupling: 0.1}
"""


def pair(
    n: int, context: GeneratorContext, pdg: int, mass: float, parent_mass: float
) -> TruthEvents:
    """Back-to-back pair in the CM frame (isotropic), boosted to the lab."""
    rng = context.rng
    machine = context.machine
    q = np.sqrt(max(parent_mass**2 / 4 - mass**2, 0.0))
    cos = rng.uniform(-1, 1, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    sin = np.sqrt(1 - cos**2)
    p = q * np.stack([sin * np.cos(phi), sin * np.sin(phi), cos], axis=1)
    e = np.full(n, parent_mass / 2)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("px", "py", "pz", "E")}
    for sign in (1, -1):
        lab = to_lab_arrays(sign * p[:, 0], sign * p[:, 1], sign * p[:, 2], e, machine)
        for name, value in zip(cols, lab, strict=True):
            cols[name].append(value)
    flat = {k: np.stack(v, axis=1).ravel() for k, v in cols.items()}
    flat["PDG"] = np.tile([pdg, -pdg], n)
    flat["mother"] = np.full(2 * n, -1)
    for name in ("prodVertexX", "prodVertexY", "prodVertexZ"):
        flat[name] = np.zeros(2 * n)
    return TruthEvents(ak.unflatten(ak.zip(flat), np.full(n, 2)), np.ones(n))


def toy_mumu(n: int, context: GeneratorContext) -> TruthEvents:
    return pair(n, context, 13, 0.1056583755, context.machine.ecms)


def toy_ee(n: int, context: GeneratorContext) -> TruthEvents:
    return pair(n, context, 11, 0.000511, context.machine.ecms)


def toy_signal(n: int, context: GeneratorContext) -> TruthEvents:
    return pair(n, context, 13, 0.1056583755, float(context.parameters["mass"]))


GENERATORS = {"mumu": toy_mumu, "ee": toy_ee, "_test_production_signal": toy_signal}


@pytest.fixture
def catalogue_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(CATALOGUE)
    return path


def run(catalogue: Path, root: Path, **options: Any) -> Any:
    options.setdefault("workers", 1)
    return produce(catalogue, data_root=root, progress=False, generators=GENERATORS, **options)


def arrays(path: Path) -> dict[str, np.ndarray]:
    with uproot.open(path) as file:
        return file["events"].arrays(library="np")


def test_production_writes_the_catalogue_files(catalogue_file: Path, tmp_path: Path) -> None:
    root = tmp_path / "out"
    report = run(catalogue_file, root)
    catalogue = load_catalogue(catalogue_file, data_root=root)
    # Every sample's pattern now finds its files, each a valid ntuple.
    assert catalogue.missing_files() == []
    mumu = catalogue.resolve_files("b2_mumu")
    assert [Path(f).name for f in mumu] == [f"b2_mumu_{i:05d}.root" for i in range(3)]
    assert [check_file(f).n_events for f in mumu] == [1000, 1000, 500]
    assert (
        Path(catalogue.resolve_files("b2_sig_m1_ctau0")[0])
        == root / "signal/b2_sig/b2_sig_m1_ctau0.root"
    )
    assert len(report.files) == 3 + 1 + 2 + 1
    assert len(report.written) == len(report.files)
    assert report.events_written == sum(f.n_events for f in report.files)
    for result in report.files:
        meta = check_file(result.path)
        assert meta.kind == ("data" if result.kind == "data" else "simulation")
        assert meta.generator["seed"] == 0
    meta = read_metadata(mumu[0])
    assert meta.process == "mumu"
    assert meta.generator["cross_section_fb"] == pytest.approx(1.148e6)
    assert meta.generator["filter_efficiency"] == 1.0
    assert read_metadata(catalogue.resolve_files("b2_ee")[0]).generator["filter_efficiency"] == 0.01
    signal = read_metadata(catalogue.resolve_files("b2_sig_m2_ctau0")[0])
    assert signal.process == "_test_production_signal_m2_ctau0"
    assert signal.generator["parameters"] == {"coupling": 0.1, "mass": 2.0, "ctau": 0.0}
    # MC truth in simulation; the generator weight (1), not the catalogue weight.
    content = arrays(mumu[0])
    assert "MCParticle_PDG" in content
    assert np.all(content["__weight__"] == 1.0)
    assert len(np.unique(content["__event__"])) == 1000
    # The signal point's mass reaches the generator: the MC pair has mass 2 GeV.
    with uproot.open(catalogue.resolve_files("b2_sig_m2_ctau0")[0]) as file:
        mc = file["events"].arrays(
            ["MCParticle_px", "MCParticle_py", "MCParticle_pz", "MCParticle_E"]
        )
    total = {c: ak.sum(mc[f"MCParticle_{c}"], axis=1) for c in ("px", "py", "pz", "E")}
    mass = np.sqrt(total["E"] ** 2 - total["px"] ** 2 - total["py"] ** 2 - total["pz"] ** 2)
    np.testing.assert_allclose(ak.to_numpy(mass), 2.0, rtol=1e-6)


def test_same_seed_same_arrays_different_seed_differs(catalogue_file: Path, tmp_path: Path) -> None:
    first = run(catalogue_file, tmp_path / "a", samples="b2_mumu", seed=5)
    again = run(catalogue_file, tmp_path / "b", samples="b2_mumu", seed=5, workers=2)
    other = run(catalogue_file, tmp_path / "c", samples="b2_mumu", seed=6)
    for a, b, c in zip(first.files, again.files, other.files, strict=True):
        x, y, z = arrays(a.path), arrays(b.path), arrays(c.path)
        assert x.keys() == y.keys()
        for name in x:
            for u, v in zip(x[name], y[name], strict=True):
                np.testing.assert_array_equal(u, v)
        assert not np.array_equal(np.concatenate(x["Track_px"]), np.concatenate(z["Track_px"]))
    # Files of one sample have different random streams too.
    assert not np.array_equal(
        arrays(first.files[0].path)["Track_px"][0], arrays(first.files[1].path)["Track_px"][0]
    )


def test_rerun_skips_complete_files_and_rewrites_broken_ones(
    catalogue_file: Path, tmp_path: Path
) -> None:
    root = tmp_path / "out"
    first = run(catalogue_file, root, samples="b2_mumu")
    target = first.files[1].path
    original = arrays(target)
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])  # a truncated file, e.g. a killed job
    second = run(catalogue_file, root, samples="b2_mumu")
    assert [f.status for f in second.files] == ["skipped", "written", "skipped"]
    check_file(target)
    np.testing.assert_array_equal(
        np.concatenate(arrays(target)["Track_px"]), np.concatenate(original["Track_px"])
    )
    # Other settings (a new seed) make every file stale.
    third = run(catalogue_file, root, samples="b2_mumu", seed=1)
    assert [f.status for f in third.files] == ["written"] * 3


def test_scale_override_and_errors(catalogue_file: Path, tmp_path: Path) -> None:
    report = run(catalogue_file, tmp_path / "s", samples="b2_mumu", scale=0.5)
    assert [f.n_events for f in report.files] == [1000, 250]
    with pytest.raises(ProductionError, match=r"no sample matches 'nothing\*'"):
        run(catalogue_file, tmp_path, samples="nothing*")
    with pytest.raises(ProductionError, match=r"no generator for process 'ee' of sample 'b2_ee'"):
        produce(
            catalogue_file,
            samples="b2_ee",
            data_root=tmp_path,
            progress=False,
            workers=1,
            generators={"mumu": toy_mumu},
        )
    with pytest.raises(ProductionError, match="scale"):
        run(catalogue_file, tmp_path, scale=2.0)


def test_file_name_rule(catalogue_file: Path, tmp_path: Path) -> None:
    catalogue = load_catalogue(catalogue_file, data_root=tmp_path)
    view = catalogue.sample("b2_mumu")
    assert file_path(catalogue, view, 7, 9, tmp_path) == tmp_path / "mc/b2_mumu/b2_mumu_00007.root"
    point = catalogue.sample("b2_sig_m1_ctau0")
    assert (
        file_path(catalogue, point, 0, 1, tmp_path)
        == tmp_path / "signal/b2_sig/b2_sig_m1_ctau0.root"
    )
    with pytest.raises(ProductionError, match="single file"):
        file_path(catalogue, point, 1, 2, tmp_path)


def test_demo_catalogue_at_a_tiny_scale(tmp_path: Path) -> None:
    generators = dict(load_generators())
    generators.setdefault("mumu", toy_mumu)
    report = produce(
        default_catalogue_path("demo.yaml"),
        samples="belle2_4S_mumu",
        scale=1e-7,
        data_root=tmp_path,
        progress=False,
        workers=1,
        generators=generators,
    )
    assert [f.n_events for f in report.files] == [61]
    meta = check_file(report.files[0].path)
    assert meta.experiment == "Belle II"
    assert meta.generator["sample"] == "belle2_4S_mumu"
