"""Tests of the shared selection helpers."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import vector

from belleflow import selection
from belleflow.beams import SUPERKEKB
from belleflow.kinematics import mass

vector.register_awkward()


def _tracks() -> ak.Array:
    """Two events: (+ - + -) prompt muons with one displaced track, and (+ -)."""
    events = [
        [
            {"px": 1.0, "py": 0.0, "pz": 0.5, "charge": 1, "dr": 0.1, "dz": 0.5, "muonID": 0.9},
            {"px": -1.0, "py": 0.2, "pz": 0.1, "charge": -1, "dr": 0.1, "dz": -0.3, "muonID": 0.95},
            {"px": 0.3, "py": 1.0, "pz": 0.0, "charge": 1, "dr": 0.2, "dz": 0.1, "muonID": 0.1},
            {"px": 0.0, "py": -1.0, "pz": 2.0, "charge": -1, "dr": 0.3, "dz": 1.0, "muonID": 0.8},
            {"px": 0.5, "py": 0.5, "pz": 0.5, "charge": 1, "dr": 3.0, "dz": 0.0, "muonID": 0.9},
        ],
        [
            {"px": 2.0, "py": 0.0, "pz": 0.0, "charge": 1, "dr": 0.0, "dz": 0.0, "muonID": 0.9},
            {"px": -2.0, "py": 0.0, "pz": 0.0, "charge": -1, "dr": 0.0, "dz": 5.0, "muonID": 0.9},
        ],
    ]
    m_pi = mass(211)
    for event in events:
        for t in event:
            t["E"] = float(np.sqrt(t["px"] ** 2 + t["py"] ** 2 + t["pz"] ** 2 + m_pi**2))
    return ak.Array(events, with_name="Momentum4D")


def test_good_tracks_apply_impact_parameter_cuts() -> None:
    good = selection.good_tracks(_tracks())
    assert ak.num(good).tolist() == [4, 1]
    assert ak.sum(selection.good_track_mask(_tracks(), max_dz=10.0), axis=1).tolist() == [4, 2]


def test_charge_count_and_identification() -> None:
    good = selection.good_tracks(_tracks())
    assert selection.net_charge(good).tolist() == [0, 1]
    assert selection.count(selection.identified(good, "muonID", 0.5)).tolist() == [3, 1]


def test_opposite_charge_pairs_are_the_four_combinations() -> None:
    good = selection.good_tracks(_tracks())
    pairs = selection.opposite_charge_pairs(good)
    assert ak.num(pairs).tolist() == [4, 0]
    assert ak.all(pairs.positive.charge > 0)
    assert ak.all(pairs.negative.charge < 0)
    p4 = selection.pair_p4(pairs, "mu-")
    first = good[0]
    expected = selection.with_hypothesis(first[0], "mu-") + selection.with_hypothesis(
        first[1], "mu-"
    )
    assert p4[0, 0].mass == pytest.approx(expected.mass)


def test_with_hypothesis_changes_only_the_energy() -> None:
    tracks = _tracks()
    mu = selection.with_hypothesis(tracks, 13)
    assert ak.all(abs(mu.mass - mass(13)) < 1e-9)
    assert ak.all(mu.px == tracks.px)


def test_sum_p4_adds_per_event() -> None:
    total = selection.sum_p4(selection.good_tracks(_tracks()))
    assert total.px.tolist() == pytest.approx([0.3, 2.0])


def test_resonance_windows_and_veto() -> None:
    windows = selection.resonance_windows([443, 100443], resolution=0.01, n_sigma=3)
    low, high = windows["443"]
    assert (low + high) / 2 == pytest.approx(mass(443))
    assert high - low == pytest.approx(0.06)
    masses = ak.Array([[mass(443), 2.0], [mass(100443) + 0.05]])
    keep = selection.resonance_veto(masses, [443, 100443], resolution=0.01, n_sigma=3)
    assert keep.tolist() == [[False, True], [True]]
    by_name = selection.resonance_windows([443], resolution={"443": 0.02})
    assert by_name["443"][1] - by_name["443"][0] == pytest.approx(0.12)
    scaled = selection.resonance_windows([443], resolution=lambda m: 0.01 * m, n_sigma=1)
    assert scaled["443"][1] - scaled["443"][0] == pytest.approx(0.02 * mass(443))


def test_extra_energy_counts_unused_photons_above_threshold() -> None:
    photons = ak.Array(
        [
            [
                {"px": 0.0, "py": 0.05, "pz": 0.0, "E": 0.05},
                {"px": 0.3, "py": 0.0, "pz": 0.0, "E": 0.3},
                {"px": 0.0, "py": 0.2, "pz": 0.0, "E": 0.2},
            ],
            [],
        ],
        with_name="Momentum4D",
    )
    assert selection.extra_energy(photons, threshold=0.1).tolist() == pytest.approx([0.5, 0.0])
    used = ak.Array([[False, True, False], []])
    assert selection.extra_energy(photons, used=used).tolist() == pytest.approx([0.2, 0.0])
    beam = vector.array(
        {k: np.full(2, getattr(SUPERKEKB.beam_p4, k)) for k in ("px", "py", "pz", "E")}
    )
    cm = selection.extra_energy(photons, threshold=0.0, beam=beam)
    expected = selection.cm_energy(photons, beam)
    assert cm.tolist() == pytest.approx([float(ak.sum(expected[0])), 0.0])


def test_cm_energy_of_the_beam_is_sqrt_s() -> None:
    beam = vector.array(
        {k: np.array([getattr(SUPERKEKB.beam_p4, k)]) for k in ("px", "py", "pz", "E")}
    )
    p4 = ak.Array([[{k: float(getattr(SUPERKEKB.beam_p4, k)) for k in ("px", "py", "pz", "E")}]])
    assert float(selection.cm_energy(p4, beam)[0, 0]) == pytest.approx(SUPERKEKB.ecms)


def test_in_window_is_half_open() -> None:
    assert selection.in_window(np.array([1.0, 2.0, 1.5]), 1.0, 2.0).tolist() == [True, False, True]
