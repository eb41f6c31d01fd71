"""Tests of belleflow.kinematics against known physics answers."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
import vector
from particle import Particle

from belleflow.beams import KEKB, SUPERKEKB, Machine
from belleflow.kinematics import (
    beam_p4,
    cos_pointing_angle,
    cos_theta_cm,
    delta_e,
    flight_direction_angle,
    invariant_mass,
    mass,
    mbc,
    missing_energy_cm,
    missing_mass2,
    missing_p4,
    p_cm,
    recoil,
    recoil_mass,
    recoil_mass2,
    theta_cm,
    to_cm,
    to_lab,
    transverse_distance,
    with_mass,
)

BEHAVIOR = vector.backends.awkward.behavior
MACHINES = [SUPERKEKB, KEKB]


def _isotropic(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cos = rng.uniform(-1, 1, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    sin = np.sqrt(1 - cos**2)
    return sin * np.cos(phi), sin * np.sin(phi), cos


def _two_body_cm(
    rng: np.random.Generator, n: int, e_total: float, m1: float, m2: float
) -> tuple[object, object]:
    """Back-to-back daughters of a system of mass e_total at rest, as vector arrays."""
    p = math.sqrt((e_total**2 - (m1 + m2) ** 2) * (e_total**2 - (m1 - m2) ** 2)) / (2 * e_total)
    ux, uy, uz = _isotropic(rng, n)
    d1 = vector.array(
        {"px": p * ux, "py": p * uy, "pz": p * uz, "E": np.full(n, math.hypot(p, m1))}
    )
    d2 = vector.array(
        {"px": -p * ux, "py": -p * uy, "pz": -p * uz, "E": np.full(n, math.hypot(p, m2))}
    )
    return d1, d2


def _mumu_lab(machine: Machine, n: int = 1000, seed: int = 1) -> tuple[object, object]:
    """e+e- -> mu+mu-: back-to-back muons at E* = sqrt(s)/2, transformed to the lab."""
    m_mu = mass("mu-")
    mu1, mu2 = _two_body_cm(np.random.default_rng(seed), n, machine.ecms, m_mu, m_mu)
    return machine.to_lab(mu1), machine.to_lab(mu2)


def _per_event_beam(machine: Machine, n: int) -> ak.Array:
    b = machine.beam_p4
    return ak.zip(
        {
            "px": np.full(n, b.px),
            "py": np.full(n, b.py),
            "pz": np.full(n, b.pz),
            "E": np.full(n, b.E),
        },
        with_name="Momentum4D",
        behavior=BEHAVIOR,
    )


def _to_awkward(v: object) -> ak.Array:
    return ak.zip(
        {c: np.asarray(getattr(v, c)) for c in ("px", "py", "pz", "E")},
        with_name="Momentum4D",
        behavior=BEHAVIOR,
    )


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_recoil_of_muon_pair_is_massless(machine: Machine) -> None:
    mu1, mu2 = _mumu_lab(machine)
    pair = mu1 + mu2
    # m^2 = E^2 - p^2 of a null four-vector: rounding ~1e-14 GeV^2, so m ~ 1e-7 GeV
    assert np.max(np.abs(recoil_mass2(pair, machine))) < 1e-10
    assert np.max(recoil_mass(pair, machine)) < 1e-6
    r = recoil(pair, machine)
    assert isinstance(r, vector.MomentumNumpy4D)
    assert np.max(np.abs(r.E)) < 1e-9
    # per-event beam branches (awkward) give the same
    beam = _per_event_beam(machine, len(pair))
    assert ak.max(recoil_mass(_to_awkward(pair), beam)) < 1e-6
    # recoil of one muon is the other one
    np.testing.assert_allclose(recoil_mass(mu1, machine), mass("mu-"), rtol=1e-6)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_mbc_delta_e_of_b_at_rest(machine: Machine) -> None:
    m_b = mass("B0")
    at_threshold = machine.scaled_to(2 * m_b)
    b_lab = at_threshold.to_lab(vector.obj(px=0.0, py=0.0, pz=0.0, E=m_b))
    assert float(mbc(b_lab, at_threshold)) == pytest.approx(m_b, abs=1e-9)
    assert float(delta_e(b_lab, at_threshold)) == pytest.approx(0.0, abs=1e-9)
    assert float(p_cm(b_lab, at_threshold)) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_mbc_delta_e_upsilon4s_to_bb(machine: Machine) -> None:
    """B from Upsilon(4S) -> B Bbar at the nominal energy: Mbc = m_B, Delta E = 0."""
    m_b = mass("B0")
    b1, _ = _two_body_cm(np.random.default_rng(5), 500, machine.ecms, m_b, m_b)
    b_lab = machine.to_lab(b1)
    np.testing.assert_allclose(mbc(b_lab, machine), m_b, atol=1e-9)
    np.testing.assert_allclose(delta_e(b_lab, machine), 0.0, atol=1e-9)
    np.testing.assert_allclose(p_cm(b_lab, machine), b1.mag, atol=1e-9)
    assert 0.3 < float(np.mean(b1.mag)) < 0.4
    # per-event beams, awkward candidates
    beam = _per_event_beam(machine, 500)
    np.testing.assert_allclose(ak.to_numpy(mbc(_to_awkward(b_lab), beam)), m_b, atol=1e-9)
    # a B with a wrong mass hypothesis is shifted in Delta E, not in Mbc
    shifted = with_mass(b_lab, m_b + 0.1)
    assert np.all(delta_e(shifted, machine) > 0)


def test_invariant_mass_of_boosted_decay() -> None:
    m_d, m_k, m_pi = mass("D0"), mass("K-"), mass("pi+")
    rng = np.random.default_rng(6)
    k, pi = _two_body_cm(rng, 2000, m_d, m_k, m_pi)
    beta = vector.obj(x=0.3, y=-0.2, z=0.6)
    k_lab, pi_lab = k.boost_beta3(beta), pi.boost_beta3(beta)
    np.testing.assert_allclose(invariant_mass(k_lab, pi_lab), m_d, rtol=1e-12)
    # jagged awkward: per event, the sum over a list of daughters
    jagged = ak.Array(
        ak.unflatten(
            ak.zip(
                {
                    c: np.stack([getattr(k_lab, c), getattr(pi_lab, c)], axis=1).ravel()
                    for c in ("px", "py", "pz", "E")
                }
            ),
            2,
        ),
        with_name="Momentum4D",
        behavior=BEHAVIOR,
    )
    np.testing.assert_allclose(
        ak.to_numpy(invariant_mass(jagged[:, 0], jagged[:, 1])), m_d, rtol=1e-12
    )
    with pytest.raises(ValueError, match="at least one"):
        invariant_mass()


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_missing_mass_of_visible_event(machine: Machine) -> None:
    mu1, mu2 = _mumu_lab(machine, n=300)
    vis = mu1 + mu2
    assert np.max(np.abs(missing_mass2(vis, machine))) < 1e-10
    assert np.max(np.abs(missing_energy_cm(vis, machine))) < 1e-9
    miss = missing_p4(vis, machine)
    assert np.max(np.abs(miss.E)) < 1e-9
    # jagged list of visible particles per event, with per-event beams
    parts = ak.concatenate(
        [_to_awkward(mu1)[:, np.newaxis], _to_awkward(mu2)[:, np.newaxis]], axis=1
    )
    parts = ak.Array(parts, with_name="Momentum4D", behavior=BEHAVIOR)
    beam = _per_event_beam(machine, 300)
    assert ak.max(abs(missing_mass2(parts, beam))) < 1e-10
    assert ak.max(abs(missing_energy_cm(parts, beam))) < 1e-9
    assert ak.max(abs(missing_p4(parts, machine).E)) < 1e-9


def test_missing_energy_of_invisible_photon() -> None:
    """e+e- -> mu+mu- gamma_invisible: missing mass 0, missing E* = photon E*."""
    rs = SUPERKEKB.ecms
    e_gamma = 2.0
    # muon pair recoiling against the photon along +x in CM
    m_pair = math.sqrt(rs * (rs - 2 * e_gamma))
    pair = SUPERKEKB.to_lab(vector.obj(px=-e_gamma, py=0.0, pz=0.0, E=rs - e_gamma))
    assert float(invariant_mass(pair)) == pytest.approx(m_pair)
    assert float(missing_mass2(pair, SUPERKEKB)) == pytest.approx(0.0, abs=1e-9)
    assert float(missing_energy_cm(pair, SUPERKEKB)) == pytest.approx(e_gamma, abs=1e-12)
    assert float(recoil_mass(pair, SUPERKEKB)) == pytest.approx(0.0, abs=1e-4)


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_cm_angles(machine: Machine) -> None:
    assert float(cos_theta_cm(machine.her_p4, machine)) == pytest.approx(1.0, abs=1e-12)
    assert float(cos_theta_cm(machine.ler_p4, machine)) == pytest.approx(-1.0, abs=1e-12)
    p = machine.to_lab(vector.obj(px=1.0, py=0.0, pz=1.0, E=2.0))
    assert float(theta_cm(p, machine)) == pytest.approx(math.pi / 4)
    # per-event beams with the machine's e- direction reproduce the exact frame
    mu1, _ = _mumu_lab(machine, n=50)
    beam = _per_event_beam(machine, 50)
    got = to_cm(_to_awkward(mu1), beam, her_direction=machine)
    want = machine.to_cm(mu1)
    for c in ("px", "py", "pz", "E"):
        np.testing.assert_allclose(ak.to_numpy(getattr(got, c)), getattr(want, c), atol=1e-12)
    np.testing.assert_allclose(
        ak.to_numpy(cos_theta_cm(_to_awkward(mu1), beam, her_direction=machine)),
        cos_theta_cm(mu1, machine),
        atol=1e-12,
    )
    back = to_lab(got, beam, her_direction=machine)
    np.testing.assert_allclose(ak.to_numpy(back.px), mu1.px, atol=1e-12)
    with pytest.raises(ValueError, match="her_direction"):
        to_cm(mu1, machine, her_direction=(0.0, 0.0, 1.0))


def test_per_event_beam_default_axis_is_lab_z() -> None:
    """Without her_direction a per-event beam uses the lab +z axis as the e- direction."""
    beam = vector.obj(px=0.0, py=0.0, pz=3.0, E=11.0)  # no crossing: a pure z boost
    photon = vector.obj(px=0.0, py=0.0, pz=1.0, E=1.0)
    assert float(cos_theta_cm(photon, beam)) == pytest.approx(1.0)
    cm = to_cm(vector.obj(px=0.0, py=0.0, pz=0.0, E=1.0), beam)
    gamma = 11.0 / math.sqrt(11.0**2 - 9.0)
    assert pytest.approx(gamma) == cm.E
    assert cm.px == pytest.approx(0.0, abs=1e-15)


def test_jagged_candidates_with_per_event_beam() -> None:
    """Jagged candidates broadcast against one beam four-vector per event."""
    rng = np.random.default_rng(9)
    counts = np.array([3, 0, 1, 2])
    n = int(counts.sum())
    px, py, pz = rng.normal(size=(3, n))
    e = np.sqrt(px**2 + py**2 + pz**2 + mass("pi+") ** 2)
    cands = ak.Array(
        ak.unflatten(ak.zip({"px": px, "py": py, "pz": pz, "E": e}), counts),
        with_name="Momentum4D",
        behavior=BEHAVIOR,
    )
    beam = _per_event_beam(KEKB, len(counts))
    pc = p_cm(cands, beam)
    assert ak.all(ak.num(pc) == counts)
    np.testing.assert_allclose(
        ak.to_numpy(ak.flatten(pc)), ak.to_numpy(ak.flatten(p_cm(cands, KEKB))), atol=1e-12
    )
    cm = to_cm(cands, beam, her_direction=KEKB)
    np.testing.assert_allclose(
        ak.to_numpy(ak.flatten(cm.E)), ak.to_numpy(ak.flatten(KEKB.to_cm(cands).E)), atol=1e-12
    )


def test_transverse_distance_and_pointing() -> None:
    assert float(transverse_distance(3.0, 4.0)) == 5.0
    np.testing.assert_allclose(
        transverse_distance(np.array([0.0, -1.0]), np.array([2.0, 0.0])), [2.0, 1.0]
    )
    # momentum parallel / perpendicular / antiparallel to the flight direction
    assert float(flight_direction_angle(1.0, 1.0, 1.0, 2.0, 2.0, 2.0)) == pytest.approx(
        0.0, abs=1e-7
    )
    assert float(cos_pointing_angle(1.0, 1.0, 1.0, 2.0, 2.0, 2.0)) == pytest.approx(1.0)
    assert float(flight_direction_angle(0.0, 0.0, 5.0, 1.0, 0.0, 0.0)) == pytest.approx(math.pi / 2)
    assert float(flight_direction_angle(1.0, 0.0, 0.0, -3.0, 0.0, 0.0)) == pytest.approx(math.pi)
    assert float(cos_pointing_angle(1.0, 0.0, 0.0, 1.0, 1.0, 0.0)) == pytest.approx(math.sqrt(0.5))
    x = ak.Array([[1.0, 0.0], []])
    angle = flight_direction_angle(x, 0.0 * x, 0.0 * x + 1.0, x, 0.0 * x, 0.0 * x + 1.0)
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(angle)), [0.0, 0.0], atol=1e-7)
    assert math.isnan(float(cos_pointing_angle(0.0, 0.0, 0.0, 1.0, 0.0, 0.0)))


def test_mass_from_particle() -> None:
    assert mass("mu-") == Particle.from_name("mu-").mass / 1000
    assert mass(13) == mass("mu-")
    assert mass("B0") == pytest.approx(5.2797, abs=1e-3)
    with pytest.raises(ValueError, match="unknown particle"):
        mass("not-a-particle")
    with pytest.raises(ValueError, match="unknown particle"):
        mass(0)


def test_with_mass_changes_hypothesis() -> None:
    m_pi, m_mu = mass("pi+"), mass("mu+")
    track = vector.obj(px=0.1, py=0.2, pz=0.3, E=math.sqrt(0.14 + m_pi**2))
    mu = with_mass(track, m_mu)
    assert (mu.px, mu.py, mu.pz) == (track.px, track.py, track.pz)
    assert mu.mass == pytest.approx(m_mu)
    jagged = ak.Array(
        [[{"px": 0.1, "py": 0.2, "pz": 0.3, "E": 0.5}], []],
        with_name="Momentum4D",
        behavior=BEHAVIOR,
    )
    out = with_mass(jagged, m_mu)
    assert ak.num(out).tolist() == [1, 0]
    assert out[0, 0].mass == pytest.approx(m_mu)
    arr = vector.array({"px": [1.0, 2.0], "py": [0.0, 0.0], "pz": [0.0, 0.0], "E": [2.0, 3.0]})
    np.testing.assert_allclose(with_mass(arr, np.array([0.0, m_mu])).mass, [0.0, m_mu], atol=1e-12)


def test_beam_p4_helper() -> None:
    b = beam_p4(SUPERKEKB)
    assert (b.px, b.pz, b.E) == (SUPERKEKB.beam_p4.px, SUPERKEKB.beam_p4.pz, SUPERKEKB.beam_p4.E)
    per_event = _per_event_beam(KEKB, 3)
    assert beam_p4(per_event) is per_event
    with pytest.raises(TypeError, match="Momentum4D"):
        beam_p4((1.0, 2.0, 3.0, 4.0))


def test_to_cm_with_missing_values_and_out_of_plane_e_beam() -> None:
    """An e- direction out of the x-z plane takes the general rotation, candidates with missing
    entries vector's awkward path: the e- direction ends on +z, the rest matches the flat path."""
    beam = _per_event_beam(SUPERKEKB, 3)
    her = SUPERKEKB.her_p4
    tilted = (her.px, 0.3, her.pz)  # an e- direction with a y component
    norm = math.sqrt(her.px**2 + 0.3**2 + her.pz**2)
    along = vector.obj(px=her.px / norm, py=0.3 / norm, pz=her.pz / norm, E=1.0)
    frame = vector.obj(px=beam.px[0], py=beam.py[0], pz=beam.pz[0], E=beam.E[0])
    on_axis = to_cm(along, frame, her_direction=tilted)
    assert (on_axis.px, on_axis.py) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert on_axis.pz > 0
    electron = _to_awkward(
        vector.array({c: np.full(3, getattr(her, c)) for c in ("px", "py", "pz", "E")})
    )
    padded = ak.pad_none(ak.unflatten(electron, [2, 1, 0]), 2, axis=1)
    cm_padded = to_cm(padded, beam, her_direction=SUPERKEKB)
    assert ak.to_list(ak.is_none(cm_padded.E, axis=1)) == [
        [False, False],
        [False, True],
        [True, True],
    ]
    flat = to_cm(electron, beam[[0, 0, 1]], her_direction=SUPERKEKB)
    np.testing.assert_allclose(
        ak.to_numpy(ak.flatten(ak.drop_none(cm_padded.E))), ak.to_numpy(flat.E), rtol=1e-15
    )
    assert ak.to_list(flat.px) == pytest.approx([0.0] * 3, abs=1e-12)  # the e- beam on +z
