"""Tests of the shared systematic variations."""

from __future__ import annotations

import awkward as ak
import pytest
import vector

from belleflow import systematics

vector.register_awkward()


def _tracks() -> ak.Array:
    return ak.Array(
        [
            [
                {"px": 2.0, "py": 0.0, "pz": 0.0, "E": 2.005, "charge": 1},
                {"px": 0.5, "py": 0.0, "pz": 0.0, "E": 0.52, "charge": -1},
            ],
            [{"px": 0.0, "py": 3.0, "pz": 0.0, "E": 3.003, "charge": 1}],
        ],
        with_name="Momentum4D",
    )


def test_pid_weights_multiply_per_identified_track() -> None:
    sizes = systematics.SystematicSizes(pid_high_p=0.01, pid_low_p=0.03)
    w = systematics.pid_weights(_tracks(), sizes=sizes)
    assert w["pid_up"].tolist() == pytest.approx([1.01 * 1.03, 1.01])
    assert w["pid_down"].tolist() == pytest.approx([0.99 * 0.97, 0.99])
    only_first = ak.Array([[True, False], [False]])
    w = systematics.pid_weights(_tracks(), identified=only_first, sizes=sizes, name="muon_id")
    assert w["muon_id_up"].tolist() == pytest.approx([1.01, 1.0])


def test_tracking_weights_from_counts_or_collections() -> None:
    sizes = systematics.SystematicSizes(tracking=0.01)
    w = systematics.tracking_weights(_tracks(), sizes=sizes)
    assert w["tracking_up"].tolist() == pytest.approx([1.01**2, 1.01])
    assert systematics.tracking_weights(4, sizes=sizes)["tracking_down"] == pytest.approx(0.99**4)


def test_momentum_scale_keeps_mass_and_fields() -> None:
    tracks = _tracks()
    scaled = systematics.scale_momenta(tracks, 1.001)
    assert ak.all(abs(scaled.mass - tracks.mass) < 1e-9)
    assert ak.flatten(scaled.px).tolist() == pytest.approx([2.002, 0.5005, 0.0])
    assert scaled.charge.tolist() == tracks.charge.tolist()


def test_photon_energy_scale() -> None:
    photons = ak.Array([[{"px": 0.0, "py": 0.0, "pz": 1.0, "E": 1.0}]], with_name="Momentum4D")
    assert float(systematics.scale_energy(photons, 1.005).E[0, 0]) == pytest.approx(1.005)


def test_shifts_declare_both_directions() -> None:
    shift = systematics.MOMENTUM_SCALE
    size = systematics.DEFAULTS.momentum_scale
    assert (shift.name, shift.collection) == ("momentum_scale", "Track")
    assert list(shift.variations()) == [
        ("momentum_scale_up", 1.0 + size),
        ("momentum_scale_down", 1.0 - size),
    ]
    shifted = shift.apply(_tracks(), 1.0 + size)
    assert float(shifted.px[0, 0]) == pytest.approx(2.0 * (1 + size))
    assert systematics.PHOTON_ENERGY_SCALE.collection == "Photon"


def test_weight_declarations_read_their_columns() -> None:
    sizes = systematics.SystematicSizes(pid_high_p=0.01, pid_low_p=0.03, tracking=0.01)
    columns = {"legs": _tracks(), "ok": ak.Array([[True, False], [False]])}
    pid = systematics.pid("legs", identified="ok", sizes=sizes)
    assert pid.name == "pid"
    assert pid.weights(columns, 2)["pid_up"].tolist() == pytest.approx([1.01, 1.0])
    fixed = systematics.tracking(4, sizes=sizes).weights(columns, 2)
    assert fixed["tracking_down"].tolist() == pytest.approx([0.99**4] * 2)
    counted = systematics.tracking("legs", sizes=sizes).weights(columns, 2)
    assert counted["tracking_up"].tolist() == pytest.approx([1.01**2, 1.01])
    photons = systematics.efficiency("photon_efficiency", 0.02, 3).weights(columns, 2)
    assert photons["photon_efficiency_up"].tolist() == pytest.approx([1.02**3] * 2)
