from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from coffea.nanoevents import NanoEventsFactory

from belleflow.ntuple import TREE_NAME
from belleflow.schema import Belle2Schema


def _events(path: object) -> ak.Array:
    return NanoEventsFactory.from_root(
        {str(path): TREE_NAME}, schemaclass=Belle2Schema, mode="virtual"
    ).events()


def test_collections_are_exposed(make_ntuple: Callable[..., Path]) -> None:
    events = _events(make_ntuple(n_events=100))
    assert {"Track", "Photon", "V0", "MCParticle", "beam", "Ecms", "__event__"} <= set(
        events.fields
    )
    assert {"px", "muonID", "charge", "mcIndex"} <= set(events.Track.fields)
    assert {"vx", "vy", "vz", "chiProb", "track0"} <= set(events.V0.fields)
    assert len(events) == 100


def test_lorentz_vector_behaviour(
    events_maker: Callable[..., dict[str, Any]], make_ntuple: Callable[..., Path]
) -> None:
    events = _events(make_ntuple(n_events=100, seed=3))
    expected = events_maker(100, seed=3)["Track"]
    mass = ak.flatten(events.Track.mass)
    px, py, pz, energy = (ak.flatten(expected[f]) for f in ("px", "py", "pz", "E"))
    np.testing.assert_allclose(mass, np.sqrt(energy**2 - px**2 - py**2 - pz**2))
    pairs = ak.combinations(events.Track, 2, fields=["a", "b"])
    total = pairs.a + pairs.b
    np.testing.assert_allclose(ak.flatten(total.E), ak.flatten(pairs.a.E + pairs.b.E))
    both = events[(ak.num(events.Track) > 0) & (ak.num(events.Photon) > 0)]
    mixed = both.Track[:, 0] + both.Photon[:, 0]  # a Track plus a Photon is a four-vector
    np.testing.assert_allclose(mixed.E, both.Track[:, 0].E + both.Photon[:, 0].E)
    beam_cm = events.beam.boostCM_of_p4(events.beam)
    np.testing.assert_allclose(ak.to_numpy(beam_cm.px), 0.0, atol=1e-12)


def test_cross_references_survive_selection(make_ntuple: Callable[..., Path]) -> None:
    events = _events(make_ntuple(n_events=300, seed=5))
    # Select events with a V0 whose daughters are set: global indices must
    # still point at the right tracks in the reduced array.
    selected = events[ak.any(events.V0.track0 >= 0, axis=1)]
    assert 0 < len(selected) < len(events)
    v0 = selected.V0[selected.V0.track0 >= 0]
    tracks = selected.Track
    np.testing.assert_allclose(ak.flatten(v0.daughter0.px), ak.flatten(tracks.px[v0.track0]))
    np.testing.assert_allclose(ak.flatten(v0.daughter1.pz), ak.flatten(tracks.pz[v0.track1]))
    matched = selected.Track.mcIndex >= 0
    mc = selected.Track.mc
    assert ak.all(ak.is_none(mc[~matched], axis=1))
    np.testing.assert_array_equal(
        ak.flatten(mc[matched].PDG),
        ak.flatten(selected.MCParticle.PDG[selected.Track.mcIndex[matched]]),
    )
    parent = selected.MCParticle.parent
    assert ak.all(ak.is_none(parent[:, 0]))
    np.testing.assert_array_equal(
        ak.flatten(parent[:, 1:].PDG), ak.flatten(selected.MCParticle.PDG[:, :-1])
    )


def test_only_touched_columns_are_read(make_ntuple: Callable[..., Path]) -> None:
    path = make_ntuple(n_events=50)
    access_log: list[Any] = []
    events = NanoEventsFactory.from_root(
        {str(path): TREE_NAME},
        schemaclass=Belle2Schema,
        mode="virtual",
        access_log=access_log,
    ).events()
    _ = ak.sum(events.Track.muonID)
    # Only muonID's values are read (offsets come from the collection's first branch).
    read_data = {entry.branch for entry in access_log if "/data/" in entry.buffer_key}
    assert read_data == {"Track_muonID"}
    assert {entry.branch for entry in access_log} <= {"Track_muonID", "Track_px"}


def test_data_files_have_no_mc(make_ntuple: Callable[..., Path]) -> None:
    events = _events(make_ntuple(simulation=False))
    assert "MCParticle" not in events.fields
    assert "mcIndex" not in events.Track.fields
