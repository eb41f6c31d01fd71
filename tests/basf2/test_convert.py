"""Importing basf2-style files of both layouts: values, names, joins, errors."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

from belleflow.basf2 import Basf2ImportError, ImportOptions, import_file
from belleflow.basf2.reader import merge_event_orders
from belleflow.beams import get_machine
from belleflow.ntuple import COLLECTIONS, EVENT_BRANCHES, check_file

PION_MASS = 0.13957039  # GeV, PDG
Read = Callable[[Path], dict[str, Any]]
Write = Callable[..., Path]


@pytest.fixture
def simulation(basf2_trees: dict[str, str]) -> ImportOptions:
    """Options importing the fixture files as simulation."""
    return ImportOptions(
        kind="simulation", process="mumu", lists={t: c for c, t in basf2_trees.items()}
    )


@pytest.fixture
def data(basf2_trees: dict[str, str]) -> ImportOptions:
    """Options importing the fixture files as data (the MC list left out)."""
    lists = {t: c for c, t in basf2_trees.items() if c != "MCParticle"}
    return ImportOptions(kind="data", lists=lists)


@pytest.fixture
def events(events_maker: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """Random events in the format, with generator weights and tracks without clusters."""
    content = events_maker(120, seed=4)
    rng = np.random.default_rng(7)
    content["__event__"] = rng.permutation(10_000)[:120].astype(np.uint32)  # not in order
    content["__weight__"] = rng.uniform(0.5, 2.0, 120)
    track = content["Track"]
    content["Track"] = ak.with_field(
        track, ak.where(track.clusterE < 0, 0.0, track.clusterE), "clusterE"
    )
    return content


def expected(events: dict[str, Any], *, simulation: bool) -> dict[str, Any]:
    """What the import must give: the events, with the energies the format defines."""
    out = dict(events)
    track = events["Track"]
    p = np.sqrt(track.px**2 + track.py**2 + track.pz**2)
    out["Track"] = ak.with_field(track, np.sqrt(p**2 + PION_MASS**2), "E")
    v0 = events["V0"]
    energy = 0
    for i in (0, 1):
        index = v0[f"track{i}"]
        daughter_p = ak.fill_none(ak.pad_none(p, 1, axis=1)[ak.where(index >= 0, index, 0)], 0.0)
        energy = energy + np.sqrt(ak.where(index >= 0, daughter_p, 0.25) ** 2 + PION_MASS**2)
    out["V0"] = ak.with_field(v0, energy, "E")
    if not simulation:
        out["__weight__"] = np.ones(len(events["__weight__"]))  # no generator weight in data
        out.pop("MCParticle")
        for name in ("Track", "Photon"):
            out[name] = out[name][[f for f in out[name].fields if f != "mcIndex"]]
    return out


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Same branches, same candidates per event, same values (to rounding)."""
    for branch in EVENT_BRANCHES:
        np.testing.assert_allclose(
            got[branch.name], want[branch.name], rtol=1e-12, err_msg=branch.name
        )
    for collection in COLLECTIONS:
        assert (collection in got) == (collection in want)
        if collection not in want:
            continue
        assert got[collection].fields == want[collection].fields
        assert ak.num(got[collection], axis=1).tolist() == ak.num(want[collection], axis=1).tolist()
        for field in want[collection].fields:
            np.testing.assert_allclose(
                ak.to_numpy(ak.flatten(got[collection][field])),
                ak.to_numpy(ak.flatten(want[collection][field])),
                rtol=1e-12,
                err_msg=f"{collection}.{field}",
            )


@pytest.mark.parametrize("layout", ["event", "candidate"])
@pytest.mark.parametrize("kind", ["simulation", "data"])
def test_round_trip(
    layout: str,
    kind: str,
    events: dict[str, Any],
    write_basf2_file: Write,
    read_ntuple: Read,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    sim = kind == "simulation"
    source = write_basf2_file(f"{layout}.root", events, layout=layout, simulation=sim)
    options: ImportOptions = request.getfixturevalue(kind)
    report = import_file(source, tmp_path / "out" / "imported.root", options)
    assert check_file(report.output).n_events == 120
    assert_same(read_ntuple(report.output), expected(events, simulation=sim))
    assert report.metadata.kind == kind
    assert report.metadata.generator["imported_from"] == "basf2"
    assert report.event_trees == (["event"] if layout == "candidate" else [])
    # Variables without a belleflow branch are reported, by their basf2 names.
    assert report.not_imported["muons"] == ["E", "useCMSFrame(p)"]
    assert report.not_imported["kshorts"] == ["M"]
    assert report.metadata.generator["not_imported"] == report.not_imported


@pytest.mark.parametrize("layout", ["event", "candidate"])
def test_chunks_change_nothing(
    layout: str,
    events: dict[str, Any],
    simulation: ImportOptions,
    write_basf2_file: Write,
    read_ntuple: Read,
    tmp_path: Path,
) -> None:
    source = write_basf2_file("c.root", events, layout=layout, simulation=True)
    whole = import_file(source, tmp_path / "whole.root", simulation)
    small = dataclasses.replace(simulation, chunk_events=7)
    chunked = import_file(source, tmp_path / "chunked.root", small)
    assert_same(read_ntuple(chunked.output), read_ntuple(whole.output))


def test_events_without_candidates_need_an_event_tree(
    events: dict[str, Any],
    simulation: ImportOptions,
    write_basf2_file: Write,
    read_ntuple: Read,
    tmp_path: Path,
) -> None:
    # VariablesToNtuple writes no row for an event without candidates: without
    # a list-less (event) tree, only events with a candidate in some list exist.
    for collection in COLLECTIONS:  # every third event without candidates
        empty = np.arange(120) % 3 == 0
        events[collection] = ak.where(empty, events[collection][:, :0], events[collection])
    source = write_basf2_file(
        "c.root", events, layout="candidate", simulation=True, event_tree=False
    )
    report = import_file(source, tmp_path / "out.root", simulation)
    keep = np.arange(120) % 3 != 0
    want = expected(events, simulation=True)
    assert_same(read_ntuple(report.output), {k: v[keep] for k, v in want.items()})
    assert report.event_trees == []


def test_nominal_beam_without_beam_variables(
    events: dict[str, Any],
    data: ImportOptions,
    write_basf2_file: Write,
    read_ntuple: Read,
    tmp_path: Path,
) -> None:
    source = write_basf2_file("e.root", events, layout="event", simulation=False, beam=False)
    options = dataclasses.replace(data, experiment="Belle", ecms=10.52)
    report = import_file(source, tmp_path / "out.root", options)
    got = read_ntuple(report.output)
    beam = get_machine("KEKB").scaled_to(10.52).beam_p4
    assert np.all(got["Ecms"] == 10.52)
    for branch, value in (("beamE", beam.E), ("beamPx", beam.px), ("beamPz", beam.pz)):
        assert got[branch] == pytest.approx(np.full(120, value), rel=1e-12)
    assert math.isclose(math.sqrt(beam.E**2 - beam.px**2 - beam.py**2 - beam.pz**2), 10.52)
    assert report.metadata.machine == "KEKB"
    assert "nominal KEKB" in report.beam


def test_merge_keeps_every_order_or_refuses(tmp_path: Path) -> None:
    # The longest tree leads; the others' events go after the shared event before them.
    merged = merge_event_orders(
        tmp_path, ["a", "b"], [np.array([1, 3, 5]), np.array([2, 3, 4, 5, 6])]
    )
    assert merged.tolist() == [1, 2, 3, 4, 5, 6]
    # Placing 2 before 1 (from a and b alone) contradicts c: solved exactly.
    sequences = [np.array([1, 3]), np.array([2, 3]), np.array([1, 2])]
    assert merge_event_orders(tmp_path, ["a", "b", "c"], sequences).tolist() == [1, 2, 3]
    with pytest.raises(Basf2ImportError, match="list events in contradicting orders"):
        merge_event_orders(tmp_path, ["a", "b"], [np.array([1, 2]), np.array([2, 1])])
