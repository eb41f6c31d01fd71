"""Physics tests of the parametric detector simulation (belleflow.generation.detector)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

from belleflow.beams import get_machine, to_lab_arrays
from belleflow.generation.detector import (
    BELLE2_DETECTOR,
    BELLE_DETECTOR,
    detector_for,
    ecl_energy_resolution,
    pt_resolution,
    simulate,
)
from belleflow.generation.truth import MC_FIELDS, TruthEvents
from belleflow.ntuple import FileMetadata, check_file, write_ntuple

MACHINE = get_machine("Belle II")
M_MU = 0.1056583755
M_PI = 0.13957039
MASSES = {11: 0.000511, 13: M_MU, 211: M_PI, 321: 0.493677, 2212: 0.938272, 22: 0.0, 111: 0.1349768}


def make_truth(columns: dict[str, Any]) -> TruthEvents:
    """Truth from ``(n, k)`` arrays per field: ``k`` particles in each of ``n`` events."""
    n, k = np.shape(columns["PDG"])
    flat = {}
    for name in MC_FIELDS:
        default = -1 if name == "mother" else 0.0
        value = np.broadcast_to(np.asarray(columns.get(name, default)), (n, k))
        flat[name] = np.ascontiguousarray(value).ravel()
    return TruthEvents(ak.unflatten(ak.zip(flat), np.full(n, k)), np.ones(n))


def gun(
    pdg: int,
    n: int,
    rng: np.random.Generator,
    *,
    p=(1.0, 4.0),
    theta=(40.0, 120.0),
    vertex=(0, 0, 0),
) -> TruthEvents:
    """One particle per event, flat in p, theta (degrees) and phi."""
    mom = rng.uniform(*p, n)
    th = np.radians(rng.uniform(*theta, n))
    phi = rng.uniform(-np.pi, np.pi, n)
    px, py, pz = mom * np.sin(th) * np.cos(phi), mom * np.sin(th) * np.sin(phi), mom * np.cos(th)
    e = np.sqrt(mom**2 + MASSES[abs(pdg)] ** 2)
    cols = {"PDG": np.full(n, pdg), "px": px, "py": py, "pz": pz, "E": e}
    cols = {k: v[:, None] for k, v in cols.items()}
    cols.update({"prodVertexX": vertex[0], "prodVertexY": vertex[1], "prodVertexZ": vertex[2]})
    return make_truth(cols)


def tracks_of(out: dict[str, Any]) -> ak.Array:
    return ak.flatten(out["Track"])


def test_detector_parameters_per_experiment() -> None:
    assert detector_for(get_machine("Belle")) is BELLE_DETECTOR
    assert detector_for(MACHINE) is BELLE2_DETECTOR
    assert BELLE_DETECTOR.cdc_inner_radius == 8.3
    assert BELLE_DETECTOR.cdc_outer_radius == 88.0
    # The ECL resolution fit reproduces the three figures of physics.md.
    got = ecl_energy_resolution([0.1, 1.0, 5.0], BELLE2_DETECTOR)
    np.testing.assert_allclose(got, [0.077, 0.0225, 0.017], rtol=0.01)
    with pytest.raises(ValueError, match="no detector parameters"):
        detector_for("LEP")


@pytest.mark.parametrize(
    ("species", "variable", "cut", "low", "high"),
    [
        (13, "muonID", 0.9, 0.88, 0.92),  # muon efficiency 90 %
        (211, "muonID", 0.9, 0.02, 0.05),  # pi -> mu 2-5 %
        (11, "electronID", 0.9, 0.935, 0.965),  # electron efficiency 95 %
        (211, "electronID", 0.9, 0.0, 0.01),  # pi -> e below 1 %
        (321, "kaonID", 0.6, 0.83, 0.87),  # kaon efficiency 85 %
        (211, "kaonID", 0.6, 0.05, 0.10),  # pi -> K 5-10 %
    ],
)
def test_pid_rates_above_1gev(
    species: int, variable: str, cut: float, low: float, high: float
) -> None:
    rng = np.random.default_rng(11)
    out = simulate(gun(species, 20_000, rng), MACHINE, rng)
    tracks = tracks_of(out)
    assert len(tracks) > 18_000
    rate = float(np.mean(ak.to_numpy(tracks[variable]) > cut))
    assert low <= rate <= high
    # The five likelihood ratios of a track are normalised.
    total = sum(
        ak.to_numpy(tracks[v]).astype(np.float64)
        for v in ("electronID", "muonID", "pionID", "kaonID", "protonID")
    )
    np.testing.assert_allclose(total, 1.0, atol=1e-5)


def test_pid_degrades_below_1gev() -> None:
    rng = np.random.default_rng(12)
    high = tracks_of(simulate(gun(13, 10_000, rng), MACHINE, rng))
    low = tracks_of(simulate(gun(13, 10_000, rng, p=(0.4, 0.9)), MACHINE, rng))
    assert np.mean(ak.to_numpy(low.muonID) > 0.9) < np.mean(ak.to_numpy(high.muonID) > 0.9) - 0.1


def two_body_resonance(n: int, mass: float, rng: np.random.Generator) -> TruthEvents:
    """e+e- -> X gamma, X -> mu+ mu-, generated in the CM frame and boosted to the lab."""
    ecms = MACHINE.ecms
    pstar = (ecms**2 - mass**2) / (2 * ecms)
    cos = rng.uniform(-0.8, 0.8, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    sin = np.sqrt(1 - cos**2)
    x = np.stack([-pstar * sin * np.cos(phi), -pstar * sin * np.sin(phi), -pstar * cos], axis=1)
    ex = np.sqrt(pstar**2 + mass**2)
    c2 = rng.uniform(-1, 1, n)
    f2 = rng.uniform(0, 2 * np.pi, n)
    q = np.sqrt(mass**2 / 4 - M_MU**2)
    qv = q * np.stack(
        [np.sqrt(1 - c2**2) * np.cos(f2), np.sqrt(1 - c2**2) * np.sin(f2), c2], axis=1
    )
    beta = x / ex
    b2 = (beta**2).sum(1)
    gamma = 1 / np.sqrt(1 - b2)

    def boost(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bp = (beta * v).sum(1)
        e = mass / 2
        k = (gamma - 1) * bp / b2 + gamma * e
        return v + k[:, None] * beta, gamma * (e + bp)

    (p1, e1), (p2, e2) = boost(qv), boost(-qv)
    rows = [(x, ex, 999, -1), (-x, np.full(n, pstar), 22, -1), (p1, e1, 13, 0), (p2, e2, -13, 0)]
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("PDG", "mother", "px", "py", "pz", "E")}
    for p, e, pdg, mother in rows:
        lab = to_lab_arrays(p[:, 0], p[:, 1], p[:, 2], np.broadcast_to(e, (n,)), MACHINE)
        for name, value in zip(("px", "py", "pz", "E"), lab, strict=True):
            cols[name].append(value)
        cols["PDG"].append(np.full(n, pdg))
        cols["mother"].append(np.full(n, mother))
    return make_truth({k: np.stack(v, axis=1) for k, v in cols.items()})


def test_resonance_mass_and_width_follow_the_resolution_model() -> None:
    rng = np.random.default_rng(3)
    mass = 3.0
    out = simulate(two_body_resonance(20_000, mass, rng), MACHINE, rng)
    tracks = out["Track"]
    # The two muons (MC indices 2 and 3), not a conversion electron of the photon.
    mu = tracks[(tracks.mcIndex == 2) | (tracks.mcIndex == 3)]
    mu = mu[ak.num(mu) == 2]
    assert len(mu) > 10_000

    def invariant(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
        e = np.sqrt((p1**2).sum(1) + M_MU**2) + np.sqrt((p2**2).sum(1) + M_MU**2)
        return np.sqrt(e**2 - ((p1 + p2) ** 2).sum(1))

    p = [np.stack([ak.to_numpy(mu[:, i][c]) for c in ("px", "py", "pz")], axis=1) for i in (0, 1)]
    m_reco = invariant(p[0], p[1])
    # Expected per-event width: propagate sigma(pT)/pT of each track (the whole
    # momentum is scaled) through m, by finite differences.
    rel = []
    for v in p:
        pt, pm = np.hypot(v[:, 0], v[:, 1]), np.linalg.norm(v, axis=1)
        rel.append(pt_resolution(pt, pm / np.sqrt(pm**2 + M_MU**2), BELLE2_DETECTOR))
    eps = 1e-4
    dm1 = (invariant(p[0] * (1 + eps), p[1]) - m_reco) / eps * rel[0]
    dm2 = (invariant(p[0], p[1] * (1 + eps)) - m_reco) / eps * rel[1]
    sigma = np.hypot(dm1, dm2)
    pull = (m_reco - mass) / sigma
    assert abs(np.median(m_reco) - mass) < 0.002
    assert 0.95 < np.std(pull) < 1.05
    assert abs(np.mean(pull)) < 0.05
    # Sanity: the width is the few-MeV scale of Belle II at 3 GeV.
    assert 0.005 < np.median(sigma) < 0.03


def test_tracks_only_inside_the_acceptance() -> None:
    rng = np.random.default_rng(5)
    truth = gun(211, 20_000, rng, p=(0.05, 3.0), theta=(1.0, 179.0))
    out = simulate(truth, MACHINE, rng)
    tracks = tracks_of(out)
    mc = out["MCParticle"]
    # Direction is not smeared: a track's theta is its particle's theta.
    theta = np.degrees(np.arctan2(np.hypot(tracks.px, tracks.py), tracks.pz))
    assert ak.min(theta) >= 17.0
    assert ak.max(theta) <= 150.0
    true_pt = ak.to_numpy(ak.flatten(np.hypot(mc.px, mc.py)))
    true_theta = np.degrees(np.arctan2(true_pt, ak.to_numpy(ak.flatten(mc.pz))))
    inside = (true_theta > 17) & (true_theta < 150) & (true_pt > 0.075)
    assert abs(len(tracks) / inside.sum() - BELLE2_DETECTOR.track_efficiency) < 0.01
    # Photons: none from a particle outside the ECL acceptance or in its gaps.
    photons = simulate(gun(22, 20_000, rng, p=(0.5, 2.0), theta=(5.0, 175.0)), MACHINE, rng)
    pho = photons["Photon"]
    mcp = photons["MCParticle"]
    matched = pho[pho.mcIndex >= 0]
    parent = mcp[matched.mcIndex]
    t = ak.to_numpy(ak.flatten(np.degrees(np.arctan2(np.hypot(parent.px, parent.py), parent.pz))))
    in_ecl = (
        ((t >= 12.4) & (t <= 31.4)) | ((t >= 32.2) & (t <= 128.7)) | ((t >= 130.7) & (t <= 155.1))
    )
    assert len(t) > 10_000
    assert in_ecl.all()


def test_impact_parameters_prompt_and_displaced() -> None:
    rng = np.random.default_rng(6)
    prompt = tracks_of(simulate(gun(13, 5000, rng, p=(2.0, 3.0)), MACHINE, rng))
    assert 5e-4 < np.std(ak.to_numpy(prompt.dr)) < 5e-3  # tens of microns
    # Tracks from (5, 0, 0) cm flying along +y: the straight line passes x = 5 cm.
    n = 2000
    cols = {
        "PDG": np.full((n, 1), 211),
        "px": np.zeros((n, 1)),
        "py": np.full((n, 1), 1.0),
        "pz": rng.uniform(-0.5, 0.5, (n, 1)),
        "E": np.full((n, 1), 1.2),
        "prodVertexX": 5.0,
    }
    displaced = tracks_of(simulate(make_truth(cols), MACHINE, rng))
    np.testing.assert_allclose(np.median(np.abs(ak.to_numpy(displaced.dr))), 5.0, atol=0.01)


def test_v0_efficiency_falls_with_transverse_distance() -> None:
    rng = np.random.default_rng(7)
    n = 30_000
    radius = rng.uniform(0.5, 125.0, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    direction = np.stack([np.cos(phi), np.sin(phi), rng.uniform(-0.3, 0.3, n)], axis=1)
    direction /= np.linalg.norm(direction, axis=1)[:, None]
    p_ks = 1.5
    m_ks = 0.497611
    vertex = direction * (radius / np.hypot(direction[:, 0], direction[:, 1]))[:, None]
    # K_S -> pi+ pi- with the pions along the flight direction +- a transverse kick.
    q = 0.206
    kick = np.cross(direction, [0.0, 0.0, 1.0])
    kick /= np.linalg.norm(kick, axis=1)[:, None]
    p1 = direction * p_ks / 2 + kick * q
    p2 = direction * p_ks / 2 - kick * q
    e1 = np.sqrt((p1**2).sum(1) + M_PI**2)
    e2 = np.sqrt((p2**2).sum(1) + M_PI**2)
    ks = direction * p_ks
    cols = {
        "PDG": np.array([[310, 211, -211]] * n),
        "mother": np.array([[-1, 0, 0]] * n),
        "px": np.stack([ks[:, 0], p1[:, 0], p2[:, 0]], 1),
        "py": np.stack([ks[:, 1], p1[:, 1], p2[:, 1]], 1),
        "pz": np.stack([ks[:, 2], p1[:, 2], p2[:, 2]], 1),
        "E": np.stack([np.full(n, np.hypot(p_ks, m_ks)), e1, e2], 1),
        "prodVertexX": np.stack([np.zeros(n), vertex[:, 0], vertex[:, 0]], 1),
        "prodVertexY": np.stack([np.zeros(n), vertex[:, 1], vertex[:, 1]], 1),
        "prodVertexZ": np.stack([np.zeros(n), vertex[:, 2], vertex[:, 2]], 1),
    }
    out = simulate(make_truth(cols), MACHINE, rng)
    v0 = out["V0"]
    r_v0 = np.hypot(v0.x, v0.y)
    near = np.abs(r_v0 - radius) < np.maximum(1.0, 0.1 * radius)
    found = ak.to_numpy(ak.any(near, axis=1))

    def efficiency(lo: float, hi: float) -> float:
        sel = (radius >= lo) & (radius < hi)
        return float(found[sel].mean())

    plateau = BELLE2_DETECTOR.track_efficiency**2 * BELLE2_DETECTOR.v0_efficiency
    assert abs(efficiency(0.5, 10.0) - plateau) < 0.03
    assert efficiency(40.0, 60.0) < efficiency(0.5, 10.0) - 0.2
    assert efficiency(80.0, 100.0) < efficiency(40.0, 60.0) - 0.1
    assert efficiency(113.0, 125.0) == 0.0
    # True vertices have flat fit probabilities; the V0 daughters are the two pions.
    true_v0 = v0[near]
    chi = ak.to_numpy(ak.flatten(true_v0.chiProb))
    assert abs(chi.mean() - 0.5) < 0.02
    tracks = out["Track"]
    assert ak.all(tracks[true_v0.track0].charge == 1)
    assert ak.all(tracks[true_v0.track1].charge == -1)


def test_fake_v0_from_prompt_pairs_have_low_fit_probability() -> None:
    rng = np.random.default_rng(8)
    n = 20_000
    truth = two_body_resonance(n, 3.0, rng)
    out = simulate(truth, MACHINE, rng)
    v0 = out["V0"]
    # V0s of the two prompt muons (not of a converted photon) are fakes.
    mc = out["Track"].mcIndex
    v0 = ak.flatten(v0[(mc[v0.track0] >= 2) & (mc[v0.track1] >= 2) & (mc[v0.track0] <= 3)])
    assert 0.01 < len(v0) / n < 0.05
    assert np.median(ak.to_numpy(v0.chiProb)) < 0.1


def test_beam_background_photons_follow_the_configured_spectrum() -> None:
    rng = np.random.default_rng(9)
    n = 20_000
    empty = make_truth({"PDG": np.zeros((n, 0), dtype=np.int64)})
    out = simulate(empty, MACHINE, rng)
    photons = out["Photon"]
    det = BELLE2_DETECTOR
    counts = ak.to_numpy(ak.num(photons))
    assert abs(counts.mean() - det.beam_photon_mean) < 0.05
    assert abs(counts.var() / counts.mean() - 1.0) < 0.05  # Poisson
    flat = ak.flatten(photons)
    assert ak.all(flat.mcIndex == -1)
    energy = ak.to_numpy(flat.E)
    assert energy.min() >= det.photon_threshold
    assert abs(np.mean(energy - det.photon_threshold) - det.beam_photon_slope) < 0.002
    assert np.mean(energy > 0.2) < 0.02
    theta = np.degrees(np.arctan2(np.hypot(flat.px, flat.py), flat.pz))
    endcaps = float(ak.mean((theta < 32.0) | (theta > 130.0)))
    assert abs(endcaps - 0.7) < 0.02


def test_photon_energy_resolution_and_conversions() -> None:
    rng = np.random.default_rng(10)
    n = 40_000
    out = simulate(gun(22, n, rng, p=(1.0, 1.0), theta=(50.0, 120.0)), MACHINE, rng)
    photons = ak.flatten(out["Photon"])
    gun_photons = photons[photons.mcIndex == 0]
    energy = ak.to_numpy(gun_photons.E)
    assert abs(np.std(energy) - 0.0225) < 0.001
    # Conversions: about 1.5 % of photons become an e+e- pair (mother: the photon).
    mc = out["MCParticle"]
    converted = ak.to_numpy(ak.sum((np.abs(mc.PDG) == 11) & (mc.mother == 0), axis=1) == 2)
    expected = BELLE2_DETECTOR.conversion_probability
    assert abs(converted.mean() - expected) < 4 * np.sqrt(expected / n)
    # Converted photons leave no photon cluster of their own.
    has_gun_photon = ak.to_numpy(ak.any(out["Photon"].mcIndex == 0, axis=1))
    assert not np.any(has_gun_photon & converted)


def test_energetic_pi0_merge_into_one_cluster() -> None:
    rng = np.random.default_rng(13)
    n = 5000
    m_pi0 = MASSES[111]
    # An 8 GeV pi0 decaying symmetrically: opening angle 34 mrad, below the merge angle.
    e_gamma = 4.0
    half = np.arcsin(m_pi0 / (2 * e_gamma))  # symmetric decay: sin(a/2) = m / (2 E_gamma)
    theta = np.radians(rng.uniform(50, 120, n))
    phi = rng.uniform(-np.pi, np.pi, n)

    def direction(t: np.ndarray, f: np.ndarray) -> np.ndarray:
        return np.stack([np.sin(t) * np.cos(f), np.sin(t) * np.sin(f), np.cos(t)], axis=1)

    g1 = e_gamma * direction(theta + half, phi)
    g2 = e_gamma * direction(theta - half, phi)
    pi0 = g1 + g2
    cols = {
        "PDG": np.array([[111, 22, 22]] * n),
        "mother": np.array([[-1, 0, 0]] * n),
        "px": np.stack([pi0[:, 0], g1[:, 0], g2[:, 0]], 1),
        "py": np.stack([pi0[:, 1], g1[:, 1], g2[:, 1]], 1),
        "pz": np.stack([pi0[:, 2], g1[:, 2], g2[:, 2]], 1),
        "E": np.stack([np.full(n, 2 * e_gamma), np.full(n, e_gamma), np.full(n, e_gamma)], 1),
    }
    assert 2 * half < BELLE2_DETECTOR.pi0_merge_angle
    photons = ak.flatten(simulate(make_truth(cols), MACHINE, rng)["Photon"])
    merged = photons[photons.mcIndex == 0]
    assert len(merged) > 0.9 * n
    assert abs(np.median(ak.to_numpy(merged.E)) - 2 * e_gamma) < 0.05
    assert np.median(ak.to_numpy(merged.clusterE9E21)) < 0.9


def test_data_content_has_no_truth_and_writes(tmp_path: Path) -> None:
    rng = np.random.default_rng(14)
    out = simulate(
        two_body_resonance(500, 3.0, rng), MACHINE, rng, simulation=False, experiment=26, run=3
    )
    assert "MCParticle" not in out
    assert "mcIndex" not in out["Track"].fields
    assert "mcIndex" not in out["Photon"].fields
    assert np.all(out["__experiment__"] == 26)
    assert len(np.unique(out["__event__"])) == 500
    np.testing.assert_allclose(out["beamE"], MACHINE.beam_p4.E)
    meta = FileMetadata(
        sample="s",
        process="data",
        kind="data",
        experiment="Belle II",
        machine="SuperKEKB",
        ecms=MACHINE.ecms,
        n_events=500,
    )
    path = write_ntuple(tmp_path / "data.root", out, meta)
    assert check_file(path).kind == "data"
