"""Loading catalogues: the shipped YAML files, extends, data_root, errors, files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from belleflow.catalogue import (
    DATA_ROOT_ENV,
    CatalogueError,
    default_catalogue_path,
    load_catalogue,
)
from belleflow.processes import PROCESSES

DATASETS = Path(__file__).parents[2] / "datasets"
FULL = DATASETS / "belleflow.yaml"
DEMO = DATASETS / "demo.yaml"


@pytest.fixture(autouse=True)
def _no_env_data_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)


def write(path: Path, document: dict[str, Any] | str) -> Path:
    text = document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def document(**overrides: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": "mini",
        "data_root": "store",
        "data": [
            {
                "name": "b2_4S",
                "experiment": "Belle II",
                "machine": "SuperKEKB",
                "ecms": 10.58,
                "luminosity": 100.0,
                "luminosity_source": "test",
            },
            {
                "name": "b1_4S",
                "experiment": "Belle",
                "machine": "KEKB",
                "ecms": 10.58,
                "luminosity": 700.0,
                "luminosity_source": "test",
            },
        ],
        "simulation": [
            {"name": "b2_4S_mumu", "process": "mumu", "stands_for": ["b2_4S"], "events": 1.0e6},
        ],
        "signals": [
            {
                "name": "sig",
                "channel": "four_muon",
                "model": "zprime",
                "stands_for": ["b2_4S"],
                "masses": [0.5, 1.0],
                "events_per_point": 100,
            }
        ],
        "skims": [{"name": "lowmult", "processes": ["mumu"]}],
    }
    out.update(overrides)
    return out


def load_error(path: Path) -> str:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    return str(info.value)


# ------------------------------------------------------- shipped catalogues


def test_full_catalogue() -> None:
    catalogue = load_catalogue(FULL)
    assert catalogue.scale == 1.0
    assert catalogue.data_root == (DATASETS / ".." / "data").resolve()
    assert catalogue.luminosity("Belle").full == pytest.approx(982.9)
    assert catalogue.luminosity("Belle II").full == pytest.approx(596.1)
    b2_4S = [d for d in catalogue.data if d.experiment == "Belle II" and d.ecms == 10.58]
    assert sum(d.luminosity for d in b2_4S) == pytest.approx(362.0 + 173.1)
    assert catalogue.data_sample("belle_4S").luminosity == 711.0
    # every process has a Belle II and a Belle Upsilon(4S) sample
    for machine in ("SuperKEKB", "KEKB"):
        processes = {
            v.process
            for v in catalogue.iter_samples("simulation")
            if v.machine == machine and v.ecms == 10.58
        }
        assert processes == set(PROCESSES)
    # MC-to-data luminosity ratio about 1, except the documented rare processes and
    # Belle II gamma gamma (gamma_alp's whole background, simulated at 10 times the data)
    for view in catalogue.iter_samples("simulation"):
        if view.process in {"mumumumu", "mumutautau", "eetautau"}:
            assert view.weight < 0.2
        elif view.name == "belle2_4S_gg":
            assert view.weight == pytest.approx(0.1, rel=0.06)
        else:
            assert view.weight == pytest.approx(1.0, rel=0.06), view.name
    # Bhabha and eeee are filtered
    for view in catalogue.iter_samples("simulation"):
        if view.process in {"ee", "eeee"}:
            assert view.filter_efficiency < 1.0
    masses = [v.mass for v in catalogue.iter_samples("signal") if v.parent == "belle2_4mu_zprime"]
    assert masses[0] == 0.212
    assert masses[-1] == 9.0
    assert 15 <= len(masses) <= 25
    assert {k.name for k in catalogue.skims} == {"lowmult", "photons", "hadronic_B"}


def test_demo_is_the_full_catalogue_at_a_fraction() -> None:
    full = load_catalogue(FULL)
    demo = load_catalogue(DEMO)
    assert demo.scale == pytest.approx(2e-5)
    assert demo.data == full.data
    assert demo.simulation == full.simulation
    assert demo.skims == full.skims
    # The demo's ntuples live in the user's cache, where `belleflow demo` makes them.
    assert demo.data_root == (Path.home() / ".cache" / "belleflow" / "demo-data").resolve()
    for experiment in ("Belle", "Belle II"):
        assert demo.luminosity(experiment).full == pytest.approx(full.luminosity(experiment).full)
        assert demo.luminosity(experiment).effective == pytest.approx(
            full.luminosity(experiment).full * 2e-5
        )
    total = demo.total_events("simulation")
    assert 0.9e6 <= total <= 3e6
    assert all(v.effective_events == 2000 for v in demo.iter_samples("signal"))


def test_default_catalogue_path() -> None:
    assert default_catalogue_path() == DEMO.resolve()
    assert default_catalogue_path("belleflow.yaml") == FULL.resolve()
    with pytest.raises(CatalogueError, match="not found"):
        default_catalogue_path("nope.yaml")


# ---------------------------------------------------------------- data_root


def test_data_root_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "cat.yaml", document())
    assert load_catalogue(path).data_root == tmp_path / "store"
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "env"))
    assert load_catalogue(path).data_root == tmp_path / "env"
    assert load_catalogue(path, data_root=tmp_path / "arg").data_root == tmp_path / "arg"


def test_data_root_defaults_to_yaml_folder(tmp_path: Path) -> None:
    raw = document()
    del raw["data_root"]
    assert load_catalogue(write(tmp_path / "cat.yaml", raw)).data_root == tmp_path


# ------------------------------------------------------------------ extends


def test_extends_inherits_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    write(tmp_path / "base" / "full.yaml", document())
    child = write(
        tmp_path / "small.yaml",
        {"extends": "base/full.yaml", "name": "small", "scale": 0.5, "data_root": "smallstore"},
    )
    catalogue = load_catalogue(child)
    assert (catalogue.name, catalogue.scale) == ("small", 0.5)
    assert catalogue.data_root == tmp_path / "smallstore"
    assert catalogue.source == child.resolve()
    assert [d.name for d in catalogue.data] == ["b2_4S", "b1_4S"]
    # data_root not overridden: the base's, relative to the base's folder
    write(tmp_path / "same.yaml", {"extends": "base/full.yaml", "scale": 0.5})
    assert load_catalogue(tmp_path / "same.yaml").data_root == tmp_path / "base" / "store"


def test_extends_pointing_nowhere(tmp_path: Path) -> None:
    child = write(tmp_path / "small.yaml", {"extends": "missing.yaml", "scale": 0.5})
    text = load_error(child)
    assert str(child) in text
    assert "extends: file not found" in text
    assert "missing.yaml" in text


def test_extends_forbids_sections(tmp_path: Path) -> None:
    write(tmp_path / "full.yaml", document())
    child = write(tmp_path / "small.yaml", {"extends": "full.yaml", "data": []})
    assert "data: not allowed in a catalogue that extends another" in load_error(child)


def test_extends_cycle(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", {"extends": "b.yaml"})
    write(tmp_path / "b.yaml", {"extends": "a.yaml"})
    assert "cycle" in load_error(tmp_path / "a.yaml")


def test_error_in_base_names_both_files(tmp_path: Path) -> None:
    raw = document()
    raw["data"][0]["luminosity"] = -3
    write(tmp_path / "full.yaml", raw)
    child = write(tmp_path / "small.yaml", {"extends": "full.yaml", "scale": 0.5})
    text = load_error(child)
    assert text.startswith(f"{tmp_path / 'full.yaml'} (extended by {child})")
    assert "data[0] 'b2_4S': luminosity:" in text


# ------------------------------------------------------------ error messages


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda d: d["data"][1].update(luminosty=3),
            "data[1] 'b1_4S': unknown key 'luminosty' (did you mean 'luminosity'?)",
        ),
        (lambda d: d["data"][1].pop("ecms"), "data[1] 'b1_4S': missing key 'ecms'"),
        (
            lambda d: d["data"][0].update(luminosity=-1),
            "data[0] 'b2_4S': luminosity: Input should be greater than 0 (got -1)",
        ),
        (
            lambda d: d["data"][0].update(luminosity=0),
            "data[0] 'b2_4S': luminosity: Input should be greater than 0",
        ),
        (
            lambda d: d["simulation"][0].update(name="b1_4S"),
            "simulation[0] 'b1_4S': name: duplicate sample name 'b1_4S' (also data[1] 'b1_4S')",
        ),
        (
            lambda d: d["simulation"][0].update(process="mumuu"),
            "simulation[0] 'b2_4S_mumu': process: unknown process 'mumuu'",
        ),
        (
            lambda d: d["simulation"][0].update(stands_for=["b2_4S", "nope"]),
            "simulation[0] 'b2_4S_mumu': stands_for: unknown data sample(s) 'nope'",
        ),
        (
            lambda d: d["simulation"][0].update(stands_for=["b2_4S", "b1_4S"]),
            "simulation[0] 'b2_4S_mumu': stands_for: incompatible data samples",
        ),
        (
            lambda d: d["signals"][0].update(masses=[1.0, 0.5]),
            "signals[0] 'sig': masses: grid must be strictly increasing, but 0.5 follows 1",
        ),
        (
            lambda d: d["signals"][0].update(masses=[0.0, 0.5]),
            "signals[0] 'sig': masses[0]: Input should be greater than 0",
        ),
        (lambda d: d.update(colour="red"), "top level: unknown key 'colour'"),
        (lambda d: d.pop("name"), "top level: missing key 'name'"),
        (lambda d: d.update(data={"a": 1}), "top level: data: Input should be a valid list"),
    ],
)
def test_error_messages(tmp_path: Path, edit: Any, expected: str) -> None:
    raw = document()
    edit(raw)
    path = write(tmp_path / "cat.yaml", raw)
    text = load_error(path)
    assert text.startswith(str(path.resolve()))
    assert expected in text


def test_several_errors_are_listed(tmp_path: Path) -> None:
    raw = document()
    raw["data"][0]["luminosity"] = -1
    raw["data"][1]["ecms"] = -1
    text = load_error(write(tmp_path / "cat.yaml", raw))
    assert "2 problems" in text
    assert "data[0] 'b2_4S': luminosity" in text
    assert "data[1] 'b1_4S': ecms" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "is empty"),
        ("- a\n- b\n", "must be a mapping"),
        ("name: [unclosed\n", "invalid YAML"),
        ("name: a\nname: b\n", "key 'name' appears twice"),
    ],
)
def test_bad_yaml(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in load_error(write(tmp_path / "cat.yaml", text))


def test_missing_catalogue_file(tmp_path: Path) -> None:
    assert "catalogue file not found" in load_error(tmp_path / "nope.yaml")


# -------------------------------------------------------------------- files


def test_resolve_files(tmp_path: Path) -> None:
    raw = document()
    raw["data"][1]["files"] = [
        str(tmp_path / "elsewhere" / "x.root"),
        "root://eos.example.org//belle/{name}/*.root",
    ]
    catalogue = load_catalogue(write(tmp_path / "cat.yaml", raw))
    folder = tmp_path / "store" / "data" / "b2_4S"
    folder.mkdir(parents=True)
    for name in ("b.root", "a.root", "c.txt"):
        (folder / name).touch()
    assert catalogue.resolve_files("b2_4S") == [str(folder / "a.root"), str(folder / "b.root")]
    # absolute path missing; URL kept as is (not globbed, not checked)
    with pytest.raises(CatalogueError) as info:
        catalogue.resolve_files("b1_4S")
    text = str(info.value)
    assert str((tmp_path / "cat.yaml").resolve()) in text
    assert "data[1] 'b1_4S': files: file not found" in text
    assert str(tmp_path / "elsewhere" / "x.root") in text
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.root").touch()
    assert catalogue.resolve_files("b1_4S") == [
        str(tmp_path / "elsewhere" / "x.root"),
        "root://eos.example.org//belle/b1_4S/*.root",
    ]


def test_resolve_files_missing_glob_and_signal(tmp_path: Path) -> None:
    catalogue = load_catalogue(write(tmp_path / "cat.yaml", document()))
    with pytest.raises(
        CatalogueError, match=r"simulation\[0\] 'b2_4S_mumu': files: no file matches"
    ):
        catalogue.resolve_files("b2_4S_mumu")
    assert catalogue.resolve_files("b2_4S_mumu", check=False) == []
    point = catalogue.sample("sig_m0p5_ctau0")
    with pytest.raises(CatalogueError, match=r"point m=0\.5 ctau=0: files: file not found"):
        catalogue.resolve_files(point)
    target = tmp_path / "store" / "signal" / "sig" / "sig_m0p5_ctau0.root"
    target.parent.mkdir(parents=True)
    target.touch()
    assert catalogue.resolve_files(point) == [str(target)]


def test_check_files(tmp_path: Path) -> None:
    catalogue = load_catalogue(write(tmp_path / "cat.yaml", document()))
    assert len(catalogue.missing_files()) == 5  # 2 data, 1 simulation, 2 signal points
    with pytest.raises(CatalogueError, match="5 sample"):
        catalogue.check_files()
    for view in catalogue.iter_samples():
        pattern = catalogue.data_root / view.files[0].replace("*", "f")
        pattern.parent.mkdir(parents=True, exist_ok=True)
        pattern.touch()
    catalogue.check_files()
    assert catalogue.missing_files() == []
