"""Lorentz matrices: exact inverse, and the same CM frame as vector's boost and rotation."""

from __future__ import annotations

import numpy as np
import pytest
import vector

from belleflow.beams import KEKB, SUPERKEKB, Machine
from belleflow.lorentz import apply_matrix, components, lab_to_cm_matrix, lorentz_inverse, matmul


@pytest.mark.parametrize("machine", [SUPERKEKB, KEKB], ids=lambda m: m.name)
def test_cm_matrix_is_vectors_boost_then_rotation(machine: Machine) -> None:
    beam, her = machine.beam_p4, machine.her_p4
    matrix = lab_to_cm_matrix(components(beam), components(her))
    her_cm = her.boostCM_of_p4(beam)
    angle = -np.arctan2(her_cm.px, her_cm.pz)
    rng = np.random.default_rng(7)
    for px, py, pz in rng.normal(size=(20, 3)):
        p = vector.obj(px=px, py=py, pz=pz, E=float(np.sqrt(px**2 + py**2 + pz**2 + 0.01)))
        expected = p.boostCM_of_p4(beam).rotateY(angle)
        got = apply_matrix(matrix, components(p))
        assert got == pytest.approx(components(expected), abs=1e-14)
    # The beam is at rest in the CM frame, and the e- beam along +z.
    assert apply_matrix(matrix, components(beam))[:3] == pytest.approx((0, 0, 0), abs=1e-12)
    her_axis = apply_matrix(matrix, components(her))
    assert her_axis[0] == pytest.approx(0.0, abs=1e-12)
    assert her_axis[2] > 0


def test_inverse_is_exact() -> None:
    matrix = lab_to_cm_matrix(components(SUPERKEKB.beam_p4), components(SUPERKEKB.her_p4))
    product = np.array(matmul(lorentz_inverse(matrix), matrix), dtype=float)
    assert product == pytest.approx(np.eye(4), abs=1e-14)


def test_components_refuses_non_vectors() -> None:
    with pytest.raises(TypeError, match="expected a Momentum4D"):
        components((1.0, 2.0, 3.0, 4.0))
