"""Tests of belleflow.beams: machines and the exact lab <-> CM transformation."""

from __future__ import annotations

import dataclasses
import math

import awkward as ak
import numpy as np
import pytest
import vector
from coffea.nanoevents.methods import vector as coffea_vector
from particle import Particle

from belleflow.beams import (
    KEKB,
    MACHINES,
    SUPERKEKB,
    Machine,
    electron_mass,
    get_machine,
    to_cm_arrays,
    to_lab_arrays,
)

BEHAVIOR = vector.backends.awkward.behavior
METRIC = np.diag([-1.0, -1.0, -1.0, 1.0])


def _p4_tuple(v: object) -> tuple[float, float, float, float]:
    return (float(v.px), float(v.py), float(v.pz), float(v.E))  # type: ignore[attr-defined]


def _random_p4(rng: np.random.Generator, n: int, m: float = 0.13957) -> tuple[np.ndarray, ...]:
    px, py, pz = rng.normal(scale=2.0, size=(3, n))
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    return px, py, pz, e


@pytest.mark.parametrize("machine", [SUPERKEKB, KEKB], ids=lambda m: m.name)
def test_beam_sum_at_rest_in_cm(machine: Machine) -> None:
    rs = machine.ecms
    cm = machine.to_cm(machine.beam_p4)
    np.testing.assert_allclose(_p4_tuple(cm), (0.0, 0.0, 0.0, rs), atol=1e-9, rtol=0)
    out = to_cm_arrays(*(np.array([c]) for c in _p4_tuple(machine.beam_p4)), machine)
    np.testing.assert_allclose(np.concatenate(out), (0.0, 0.0, 0.0, rs), atol=1e-9, rtol=0)
    arr = vector.array(
        {
            k: np.full(3, v)
            for k, v in zip(["px", "py", "pz", "E"], _p4_tuple(machine.beam_p4), strict=True)
        }
    )
    cm_arr = machine.to_cm(arr)
    np.testing.assert_allclose(cm_arr.E, rs, atol=1e-9, rtol=0)
    np.testing.assert_allclose(np.stack([cm_arr.px, cm_arr.py, cm_arr.pz]), 0.0, atol=1e-9)


@pytest.mark.parametrize("machine", [SUPERKEKB, KEKB], ids=lambda m: m.name)
def test_her_along_plus_z_in_cm(machine: Machine) -> None:
    her = machine.to_cm(machine.her_p4)
    ler = machine.to_cm(machine.ler_p4)
    assert her.pz > 5.0
    assert abs(her.px) < 1e-12
    assert abs(her.py) < 1e-12
    np.testing.assert_allclose(_p4_tuple(ler), (0.0, 0.0, -her.pz, her.E), atol=1e-12, rtol=0)
    assert pytest.approx(machine.ecms / 2, abs=1e-12) == her.E


def test_superkekb_numbers() -> None:
    beam = SUPERKEKB.beam_p4
    assert beam.px == pytest.approx(0.457, abs=1e-3)
    assert beam.py == 0.0
    assert beam.pz == pytest.approx(3.00, abs=1e-2)
    assert SUPERKEKB.ecms == pytest.approx(10.58, abs=0.01)
    b = SUPERKEKB.boost
    assert b.x > 0
    assert b.z > 0
    assert b.mag / math.sqrt(1 - b.mag2) == pytest.approx(0.287, abs=2e-3)


def test_kekb_numbers() -> None:
    assert KEKB.ecms == pytest.approx(10.58, abs=0.01)
    b = KEKB.boost
    assert b.mag / math.sqrt(1 - b.mag2) == pytest.approx(0.425, abs=2e-3)
    assert KEKB.ler_p4.px == 0.0


def test_electron_mass_from_particle() -> None:
    assert electron_mass() == Particle.from_pdgid(11).mass / 1000
    her = SUPERKEKB.her_p4
    assert her.mass == pytest.approx(electron_mass(), rel=1e-6)


@pytest.mark.parametrize("machine", [SUPERKEKB, KEKB], ids=lambda m: m.name)
def test_matrices_are_lorentz_and_inverse(machine: Machine) -> None:
    lab_to_cm = machine.lab_to_cm_matrix
    cm_to_lab = machine.cm_to_lab_matrix
    assert lab_to_cm.shape == (4, 4)
    np.testing.assert_allclose(lab_to_cm @ cm_to_lab, np.eye(4), atol=1e-14)
    np.testing.assert_allclose(lab_to_cm.T @ METRIC @ lab_to_cm, METRIC, atol=1e-14)
    assert np.linalg.det(lab_to_cm) == pytest.approx(1.0)  # proper, no reflection
    with pytest.raises(ValueError, match="read-only"):
        lab_to_cm[0, 0] = 2.0


@pytest.mark.parametrize("machine", [SUPERKEKB, KEKB], ids=lambda m: m.name)
def test_agrees_with_vector_boost_and_rotation(machine: Machine) -> None:
    """The matrix equals vector's boost by -beta followed by a rotation about y."""
    rng = np.random.default_rng(1)
    px, py, pz, e = _random_p4(rng, 1000)
    v = vector.array({"px": px, "py": py, "pz": pz, "E": e})
    her = machine.her_p4.boost_beta3(-machine.boost)
    angle = -math.atan2(her.px, her.pz)
    expected = v.boost_beta3(-machine.boost).rotateY(angle)
    got = machine.to_cm(v)
    for c in ("px", "py", "pz", "E"):
        np.testing.assert_allclose(getattr(got, c), getattr(expected, c), atol=1e-12)


@pytest.mark.parametrize("machine", [SUPERKEKB, KEKB], ids=lambda m: m.name)
def test_round_trip_numpy(machine: Machine) -> None:
    rng = np.random.default_rng(2)
    px, py, pz, e = _random_p4(rng, 10_000)
    v = vector.array({"px": px, "py": py, "pz": pz, "E": e})
    back = machine.to_lab(machine.to_cm(v))
    assert isinstance(back, vector.MomentumNumpy4D)
    for got, want in zip(_cols(back), (px, py, pz, e), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-12)
    # raw-array helpers and a non-Cartesian vector array give the same answer
    cm = machine.to_cm(v)
    raw = to_cm_arrays(px, py, pz, e, machine)
    for got, want in zip(raw, _cols(cm), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-12)
    for got, want in zip(to_lab_arrays(*raw, machine), (px, py, pz, e), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-12)
    polar = vector.array({"pt": v.pt, "eta": v.eta, "phi": v.phi, "mass": v.mass})
    for got, want in zip(_cols(machine.to_cm(polar)), _cols(cm), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-11)


def _cols(v: object) -> tuple[object, object, object, object]:
    return v.px, v.py, v.pz, v.E  # type: ignore[attr-defined]


@pytest.mark.parametrize("machine", [SUPERKEKB, KEKB], ids=lambda m: m.name)
def test_round_trip_awkward_jagged(machine: Machine) -> None:
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 5, size=200)
    px, py, pz, e = _random_p4(rng, int(counts.sum()))
    flat = ak.zip({"px": px, "py": py, "pz": pz, "E": e})
    jagged = ak.Array(ak.unflatten(flat, counts), with_name="Momentum4D", behavior=BEHAVIOR)
    cm = machine.to_cm(jagged)
    assert ak.all(ak.num(cm) == counts)
    assert str(ak.type(cm)).endswith(
        "var * Momentum4D[px: float64, py: float64, pz: float64, E: float64]"
    )
    assert ak.all(abs(cm.mass - jagged.mass) < 1e-9)
    back = machine.to_lab(cm)
    for c in ("px", "py", "pz", "E"):
        assert ak.max(abs(getattr(back, c) - getattr(jagged, c))) < 1e-12


def test_coffea_nanoevents_vectors() -> None:
    """Records of coffea's vector classes (MomentumAwkward4D subclasses) work too."""
    rng = np.random.default_rng(4)
    counts = np.array([2, 0, 3])
    n = int(counts.sum())
    arr = ak.zip(
        {
            "pt": ak.unflatten(rng.uniform(0.2, 3.0, n), counts),
            "eta": ak.unflatten(rng.uniform(-1.5, 2.0, n), counts),
            "phi": ak.unflatten(rng.uniform(-np.pi, np.pi, n), counts),
            "mass": ak.unflatten(np.full(n, 0.105658), counts),
        },
        with_name="PtEtaPhiMLorentzVector",
        behavior=coffea_vector.behavior,
    )
    assert isinstance(arr, vector.backends.awkward.MomentumAwkward4D)
    back = SUPERKEKB.to_lab(SUPERKEKB.to_cm(arr))
    for c in ("px", "py", "pz", "E"):
        assert ak.max(abs(getattr(back, c) - getattr(arr, c))) < 1e-12


def test_round_trip_object() -> None:
    v = vector.obj(px=0.3, py=-1.2, pz=2.5, E=3.0)
    back = KEKB.to_lab(KEKB.to_cm(v))
    np.testing.assert_allclose(_p4_tuple(back), _p4_tuple(v), atol=1e-14)


@pytest.mark.parametrize("ecms", [10.52, 10.355, 11.0])
def test_scaled_to(ecms: float) -> None:
    scaled = SUPERKEKB.scaled_to(ecms)
    assert scaled.ecms == pytest.approx(ecms, abs=1e-12)
    assert scaled.her_energy / scaled.ler_energy == pytest.approx(
        SUPERKEKB.her_energy / SUPERKEKB.ler_energy, rel=1e-12
    )
    assert (scaled.her_angle, scaled.ler_angle, scaled.name) == (
        SUPERKEKB.her_angle,
        SUPERKEKB.ler_angle,
        SUPERKEKB.name,
    )
    with pytest.raises(ValueError, match="2 m_e"):
        SUPERKEKB.scaled_to(0.0)


def test_machine_registry() -> None:
    assert set(MACHINES) == {"SuperKEKB", "KEKB"}
    assert get_machine("SuperKEKB") is SUPERKEKB
    assert get_machine("belle ii") is SUPERKEKB
    assert get_machine("KEKB") is KEKB
    assert get_machine("Belle") is KEKB
    with pytest.raises(ValueError, match=r"unknown machine 'LEP'.*SuperKEKB.*KEKB"):
        get_machine("LEP")


def test_machine_is_frozen_and_validated() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SUPERKEKB.her_energy = 8.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="electron mass"):
        dataclasses.replace(SUPERKEKB, ler_energy=0.0)
