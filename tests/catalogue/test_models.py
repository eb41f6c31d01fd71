"""Catalogue models: schema, semantics, sample views and weights; the process registry."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from belleflow.catalogue import Catalogue, CatalogueError, format_point_value, is_url
from belleflow.processes import NOMINAL_ECMS, PROCESSES, UnknownProcessError, get_process


def minimal(**overrides: Any) -> dict[str, Any]:
    """A small valid catalogue document: one Belle II and one Belle data sample."""
    document: dict[str, Any] = {
        "name": "mini",
        "data": [
            {
                "name": "b2_4S",
                "experiment": "Belle II",
                "machine": "SuperKEKB",
                "ecms": 10.58,
                "luminosity": 100.0,
                "luminosity_source": "test",
                "experiments": [26],
            },
            {
                "name": "b2_offres",
                "experiment": "Belle II",
                "machine": "SuperKEKB",
                "ecms": 10.52,
                "luminosity": 10.0,
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
            {"name": "b2_mumu", "process": "mumu", "stands_for": ["b2_4S"], "events": 2.0e8},
            {
                "name": "b2_ee",
                "process": "ee",
                "stands_for": ["b2_4S"],
                "events": 1.0e8,
                "filter_efficiency": 0.01,
                "filter": "radiative only",
            },
        ],
        "signals": [
            {
                "name": "sig",
                "channel": "four_muon",
                "model": "zprime",
                "stands_for": ["b2_4S"],
                "masses": [0.5, 1.0],
                "lifetimes": [0.0, 1.5],
                "events_per_point": 1000,
            }
        ],
        "skims": [{"name": "lowmult", "processes": ["mumu"], "channels": ["four_muon"]}],
    }
    document.update(overrides)
    return document


# ---------------------------------------------------------------- processes


def test_process_registry_has_the_required_processes() -> None:
    required = {
        "mumu": 1.148,
        "gg": 4.99,
        "tautau": 0.919,
        "eeee": 39.7,
        "eemumu": 18.9,
        "uubar": 1.61,
        "ddbar": 0.40,
        "ssbar": 0.38,
        "ccbar": 1.30,
    }
    for name, sigma in required.items():
        assert get_process(name).cross_section_nb == pytest.approx(sigma)
        assert not get_process(name).estimate
    assert get_process("ee").cross_section_nb == pytest.approx(300.0)
    assert get_process("BBcharged").cross_section_nb == pytest.approx(1.11 * 0.514)
    assert get_process("BBmixed").cross_section_nb == pytest.approx(1.11 * 0.486)
    for name in ("mumumumu", "mumutautau", "ggHadronic"):
        assert get_process(name).estimate
        assert "estimate" in get_process(name).source
    assert all(p.source for p in PROCESSES.values())


def test_get_process_unknown_suggests() -> None:
    with pytest.raises(UnknownProcessError, match=r"unknown process 'mumuu'.*did you mean 'mumu'"):
        get_process("mumuu")
    with pytest.raises(KeyError):  # an UnknownProcessError is a KeyError
        get_process("nothing")


def test_cross_section_at() -> None:
    bb = get_process("BBmixed")
    assert bb.threshold == pytest.approx(2 * 5.27966, abs=1e-3)
    assert bb.cross_section_at(10.52) == 0.0  # off-resonance: no B pairs
    assert bb.cross_section_at(10.58) == pytest.approx(bb.cross_section_nb)
    mumu = get_process("mumu")
    assert mumu.cross_section_at(NOMINAL_ECMS) == pytest.approx(1.148)
    assert mumu.cross_section_at(10.52) == pytest.approx(1.148 * (10.58 / 10.52) ** 2)
    assert get_process("eeee").cross_section_at(10.0) == pytest.approx(39.7)
    with pytest.raises(ValueError, match="positive"):
        mumu.cross_section_at(0.0)


# ------------------------------------------------------------------- schema


def test_minimal_catalogue_is_valid() -> None:
    catalogue = Catalogue.model_validate(minimal())
    assert [v.kind for v in catalogue.samples].count("signal") == 4
    assert catalogue.scale == 1.0


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (("data", 0, "luminosity"), -1.0, "greater than 0"),
        (("data", 0, "luminosity"), 0.0, "greater than 0"),
        (("data", 0, "machine"), "KEKB", "ran at 'SuperKEKB'"),
        (("data", 0, "experiment"), "Belle 3", "Belle"),
        (("simulation", 0, "events"), 0, "greater than 0"),
        (("simulation", 0, "filter_efficiency"), 1.5, "less than or equal to 1"),
        (("simulation", 1, "filter"), "", "not described"),
        (("simulation", 0, "process"), "mumuu", "did you mean 'mumu'"),
        (("signals", 0, "masses"), [1.0, 0.5], "strictly increasing"),
        (("signals", 0, "masses"), [-1.0, 0.5], "greater than 0"),
        (("signals", 0, "lifetimes"), [-1.0], "greater than or equal to 0"),
        (("skims", 0, "processes"), ["nope"], "unknown process 'nope'"),
        (("data", 0, "name"), "has space", "pattern"),
    ],
)
def test_schema_errors(path: tuple[Any, ...], value: Any, match: str) -> None:
    document = minimal()
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError, match=match):
        Catalogue.model_validate(document)


def test_scale_range() -> None:
    with pytest.raises(ValidationError, match="scale"):
        Catalogue.model_validate(minimal(scale=0.0))
    with pytest.raises(ValidationError, match="scale"):
        Catalogue.model_validate(minimal(scale=2.0))


def test_unknown_key_is_rejected() -> None:
    document = minimal()
    document["data"][0]["luminosty"] = 1.0
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Catalogue.model_validate(document)


# ---------------------------------------------------------------- semantics


def problems_of(document: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        Catalogue.model_validate(document)
    return str(info.value)


def test_duplicate_names_across_sections() -> None:
    document = minimal()
    document["simulation"][0]["name"] = "b2_4S"
    text = problems_of(document)
    assert "simulation[0] 'b2_4S': name: duplicate sample name 'b2_4S' (also data[0]" in text


def test_duplicate_with_signal_point_name() -> None:
    document = minimal()
    document["simulation"][0]["name"] = "sig_m0p5_ctau0"
    assert "duplicate sample name 'sig_m0p5_ctau0'" in problems_of(document)


def test_stands_for_unknown_and_incompatible() -> None:
    document = minimal()
    document["simulation"][0]["stands_for"] = ["b2_4S", "nowhere"]
    assert "stands_for: unknown data sample(s) 'nowhere'" in problems_of(document)
    document["simulation"][0]["stands_for"] = ["b2_4S", "b1_4S"]
    assert "stands_for: incompatible data samples 'b2_4S'" in problems_of(document)
    document["simulation"][0]["stands_for"] = ["b2_4S", "b2_offres"]
    assert "incompatible" in problems_of(document)


def test_bb_below_threshold_is_rejected() -> None:
    document = minimal()
    document["simulation"][0].update(process="BBmixed", stands_for=["b2_offres"])
    assert "'BBmixed' is not produced at ecms = 10.52 GeV" in problems_of(document)


def test_signal_patterns_need_point_placeholders() -> None:
    document = minimal()
    document["signals"][0]["files"] = ["signal/{name}/all.root"]
    text = problems_of(document)
    assert "lacks {mass}" in text
    assert "lacks {ctau}" in text
    document["signals"][0]["files"] = ["signal/{name}/{nope}.root"]
    assert "unknown placeholder {nope}" in problems_of(document)


def test_duplicate_skim() -> None:
    document = minimal()
    document["skims"].append({"name": "lowmult"})
    assert "duplicate skim name 'lowmult'" in problems_of(document)


def test_skim_with_unknown_data_sample() -> None:
    document = minimal()
    document["skims"][0]["data"] = ["b2_4S", "b2_5S"]
    assert "data: unknown data sample(s) ['b2_5S']" in problems_of(document)


def test_skim_restricted_to_some_data() -> None:
    document = minimal()
    document["skims"][0]["data"] = ["b2_4S"]
    names = {v.name for v in Catalogue.model_validate(document).skim("lowmult")}
    assert "b2_4S" in names
    assert "b1_4S" not in names


# -------------------------------------------------------------------- views


def test_simulation_weight_and_scale() -> None:
    catalogue = Catalogue.model_validate(minimal(scale=0.01))
    mumu = catalogue.sample("b2_mumu")
    assert mumu.effective_luminosity == pytest.approx(1.0)
    assert mumu.effective_events == 2_000_000
    # sigma[fb] * eff * L_eff / N_eff
    assert mumu.weight == pytest.approx(1.148e6 * 1.0 / 2.0e6)
    ee = catalogue.sample("b2_ee")
    assert ee.weight == pytest.approx(300e6 * 0.01 * 1.0 / 1.0e6)
    assert ee.n_files == 1
    data = catalogue.sample("b2_4S")
    assert (data.weight, data.events, data.experiments) == (1.0, None, (26,))


def test_effective_events_at_least_one() -> None:
    catalogue = Catalogue.model_validate(minimal(scale=1e-12))
    assert catalogue.sample("b2_mumu").effective_events == 1


def test_signal_points() -> None:
    catalogue = Catalogue.model_validate(minimal(scale=0.5, signal_events_per_point=500))
    points = list(catalogue.iter_samples("signal"))
    assert [p.name for p in points] == [
        "sig_m0p5_ctau0",
        "sig_m0p5_ctau1p5",
        "sig_m1_ctau0",
        "sig_m1_ctau1p5",
    ]
    first = points[0]
    assert (first.mass, first.ctau, first.channel, first.parent) == (0.5, 0.0, "four_muon", "sig")
    assert first.files == ("signal/sig/sig_m0p5_ctau0.root",)
    assert first.effective_events == 500  # the override, not scaled
    assert first.weight == pytest.approx(50.0 / 500)  # fb^-1 per event: per fb of sigma


def test_point_value_format() -> None:
    assert format_point_value(0.212) == "0p212"
    assert format_point_value(9.0) == "9"
    assert format_point_value(0.0) == "0"
    assert is_url("root://eos.example//a.root")
    assert is_url("https://x/y.root")
    assert not is_url("/abs/path.root")


def test_luminosity_and_skim() -> None:
    catalogue = Catalogue.model_validate(minimal(scale=0.1))
    assert catalogue.luminosity() == pytest.approx((810.0, 81.0))
    assert catalogue.luminosity("Belle II").full == pytest.approx(110.0)
    assert catalogue.luminosity_by_experiment()["Belle"].effective == pytest.approx(70.0)
    with pytest.raises(CatalogueError, match="no data of experiment 'BaBar'"):
        catalogue.luminosity("BaBar")
    names = [v.name for v in catalogue.skim("lowmult")]
    assert "b2_mumu" in names
    assert "b2_ee" not in names
    assert {"b2_4S", "b1_4S", "sig_m1_ctau0"} <= set(names)
    with pytest.raises(CatalogueError, match="no skim 'x'"):
        catalogue.skim("x")
    with pytest.raises(CatalogueError, match="no sample 'x'"):
        catalogue.sample("x")


def test_to_dict_is_plain() -> None:
    catalogue = Catalogue.model_validate(minimal())
    entry = catalogue.sample("sig_m1_ctau0").to_dict()
    assert entry["files"] == ["signal/sig/sig_m1_ctau0.root"]
    assert entry["n_files"] == 1
    assert isinstance(entry["stands_for"], list)


def test_views_sum_to_catalogue_luminosity() -> None:
    catalogue = Catalogue.model_validate(minimal())
    total = math.fsum(v.luminosity for v in catalogue.iter_samples("data"))
    assert total == pytest.approx(catalogue.luminosity().full)
