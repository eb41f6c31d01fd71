"""Tests of belleflow.features: the per-candidate helpers, against vector and known answers."""

from __future__ import annotations

import math
from typing import Any

import awkward as ak
import numpy as np
import pytest
import vector
from hypothesis import given, settings
from hypothesis import strategies as st

from belleflow import features, kinematics, selection
from belleflow.beams import KEKB, SUPERKEKB
from belleflow.kinematics import to_cm

BEHAVIOR = vector.backends.awkward.behavior

momentum = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False)
mass = st.floats(min_value=0.0, max_value=3.0, allow_nan=False)
# Three-momenta away from zero: angles of a null momentum are NaN by design.
three = st.tuples(momentum, momentum, momentum).filter(lambda p: math.hypot(*p) > 1e-3)


def _obj(p: tuple[float, float, float], m: float = 0.1) -> Any:
    return vector.obj(px=p[0], py=p[1], pz=p[2], E=math.sqrt(sum(x * x for x in p) + m * m))


def _tracks(rows: list[list[tuple[float, float, float, int]]]) -> ak.Array:
    """Jagged tracks (px, py, pz, charge), pion energies."""
    m_pi = 0.13957
    return ak.Array(
        [
            [
                {"px": x, "py": y, "pz": z, "E": math.sqrt(x * x + y * y + z * z + m_pi**2),
                 "charge": q, "muonID": 0.9 if q > 0 else 0.1}
                for x, y, z, q in row
            ]
            for row in rows
        ],
        with_name="Momentum4D",
        behavior=BEHAVIOR,
    )  # fmt: skip


FOUR = _tracks(
    [
        [(1.0, 0.2, 0.5, 1), (-0.3, 1.1, 0.2, -1), (0.4, -0.8, 1.5, 1), (-1.2, -0.4, -0.9, -1)],
        [(0.1, 0.3, 2.5, -1), (0.6, 0.1, -0.2, 1), (-0.5, 0.2, 0.7, -1), (0.2, -1.3, 0.1, 1)],
    ]
)


@given(three, three)
def test_momentum_ratio_in_unit_interval_and_symmetric(a: Any, b: Any) -> None:
    r = features.momentum_ratio(_obj(a), _obj(b))
    assert 0.0 <= r <= 1.0
    assert r == features.momentum_ratio(_obj(b), _obj(a))
    assert r == pytest.approx(
        min(math.hypot(*a), math.hypot(*b)) / max(math.hypot(*a), math.hypot(*b))
    )


@given(three, three)
def test_cos_opening_is_clipped_symmetric_and_agrees_with_vector(a: Any, b: Any) -> None:
    cos = features.cos_opening(_obj(a), _obj(b))
    assert -1.0 <= cos <= 1.0
    assert cos == features.cos_opening(_obj(b), _obj(a))
    assert features.opening_angle(_obj(a), _obj(b)) == pytest.approx(
        _obj(a).deltaangle(_obj(b)), abs=1e-6
    )


@given(three, st.floats(min_value=1e-3, max_value=1e3))
def test_parallel_and_antiparallel_momenta(a: Any, scale: float) -> None:
    b = tuple(scale * x for x in a)
    assert features.cos_opening(_obj(a), _obj(b)) == pytest.approx(1.0)
    assert features.cos_opening(_obj(a), _obj(tuple(-x for x in b))) == pytest.approx(-1.0)
    assert 0.0 <= features.opening_angle(_obj(a), _obj(b)) <= 1e-6


@given(three, mass, st.floats(min_value=-1.0, max_value=1.0), st.floats(0.0, 2 * math.pi))
def test_cos_helicity_recovers_the_rest_frame_angle(
    parent_p: Any, parent_m: float, cos: float, phi: float
) -> None:
    parent = _obj(parent_p, parent_m + 0.5)
    # A daughter at polar angle acos(cos) to the parent's flight, in its rest frame.
    axis = parent.to_3D().unit()
    ortho = axis.cross(vector.obj(x=1.0, y=0.0, z=0.0))
    if ortho.mag < 1e-3:
        ortho = axis.cross(vector.obj(x=0.0, y=1.0, z=0.0))
    u = ortho.unit()
    w = axis.cross(u)
    sin = math.sqrt(max(1.0 - cos * cos, 0.0))
    d = axis * cos + (u * math.cos(phi) + w * math.sin(phi)) * sin
    rest = vector.obj(px=0.2 * d.x, py=0.2 * d.y, pz=0.2 * d.z, E=0.25)
    lab = rest.boost_p4(parent)
    assert features.cos_helicity(lab, parent) == pytest.approx(cos, abs=1e-6)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(three, three), min_size=1, max_size=5), st.sampled_from([SUPERKEKB, KEKB])
)
def test_in_cm_keeps_fields_and_invariant_masses(pairs: Any, machine: Any) -> None:
    rows = [[(*a, 1), (*b, -1)] for a, b in pairs]
    tracks = _tracks(rows)
    cm = features.in_cm(tracks, machine, mass=kinematics.mass("mu-"))
    assert cm.charge.tolist() == tracks.charge.tolist()
    assert ak.all(cm.muonID == tracks.muonID)
    # The pair mass is the lab one: m^2 to rounding of E^2 (collinear legs cancel to it).
    lab = selection.pair_p4(selection.opposite_charge_pairs(tracks), "mu-")
    pair = cm[:, 0] + cm[:, 1]
    assert np.allclose(
        pair.tau2, ak.flatten(lab.tau2), rtol=0, atol=1e-12 * float(ak.max(pair.E)) ** 2
    )
    # The NumPy path transforms each event with its own beam: the same numbers.
    beams = vector.array(
        {c: np.full(len(tracks), getattr(machine.beam_p4, c)) for c in ("px", "py", "pz", "E")}
    )
    flat = features.in_cm(features.as_numpy(tracks, 2), beams, machine)
    assert np.array_equal(flat.E, features.as_numpy(to_cm(tracks, beams, machine), 2).E)


def test_in_cm_puts_the_beam_at_rest() -> None:
    beams = SUPERKEKB.beam_p4
    row = [(beams.px, beams.py, beams.pz, 1)]
    tracks = ak.zip(
        {"px": [[r[0] for r in row]], "py": [[r[1] for r in row]], "pz": [[r[2] for r in row]],
         "E": [[beams.E]], "charge": [[1]]},
        with_name="Momentum4D", behavior=BEHAVIOR,
    )  # fmt: skip
    cm = features.in_cm(tracks, SUPERKEKB)
    assert float(cm.p[0, 0]) == pytest.approx(0.0, abs=1e-9)
    assert float(cm.E[0, 0]) == pytest.approx(SUPERKEKB.ecms)


def test_as_numpy_and_jagged_round_trip() -> None:
    v = features.as_numpy(FOUR, 4)
    assert v.shape == (2, 4)
    assert features.jagged(v.px).tolist() == FOUR.px.tolist()
    assert str(features.jagged(v.px).type) == "2 * var * float64"


def test_as_numpy_rejects_unequal_lengths() -> None:
    with pytest.raises(ValueError, match="every event must hold 4 four-vectors"):
        features.as_numpy(FOUR[:, 1:], 4)
    assert features.as_numpy(FOUR[:0], 4).shape == (0, 4)  # no event: still four per event


def test_four_track_pairs_follow_opposite_charge_pairs() -> None:
    ordered = FOUR[ak.argsort(FOUR.charge, axis=1, ascending=False)]
    pos, neg, other_pos, other_neg = features.four_track_pairs(features.as_numpy(ordered, 4))
    pairs = selection.opposite_charge_pairs(FOUR)
    other = selection.complementary_pairs(pairs)
    for leg, expected in (
        (pos, pairs.positive), (neg, pairs.negative),
        (other_pos, other.positive), (other_neg, other.negative),
    ):  # fmt: skip
        assert leg.px.tolist() == expected.px.tolist()


def test_complementary_pairs_needs_two_plus_two() -> None:
    three_tracks = _tracks([[(1.0, 0.0, 0.0, 1), (0.0, 1.0, 0.0, -1), (0.0, 0.0, 1.0, -1)]])
    with pytest.raises(ValueError, match="two positive and two negative"):
        selection.complementary_pairs(selection.opposite_charge_pairs(three_tracks))


def test_per_candidate_awkward_and_numpy() -> None:
    assert features.per_candidate(np.array([1.0, 2.0]), ak.Array([[0, 0], [0]])).tolist() == [
        [1.0, 1.0],
        [2.0],
    ]
    out = features.per_candidate(np.array([1.0, 2.0]), np.zeros((2, 4)))
    assert out.shape == (2, 4)
    assert out[1].tolist() == [2.0] * 4
