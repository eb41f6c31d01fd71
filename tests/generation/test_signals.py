"""Tests of the signal machinery and of the first signals (four-muon Z' and S)."""

from __future__ import annotations

import dataclasses

import awkward as ak
import numpy as np
import pytest
from scipy import stats

import belleflow.generation.registry  # noqa: F401 - registers every generator
from belleflow.beams import SUPERKEKB
from belleflow.generation.phasespace import n_body
from belleflow.generation.signals import (
    DARK_PDG,
    SignalModel,
    b_to_h_x,
    dark_species,
    register_signal,
    registered_signals,
)
from belleflow.generation.truth import GeneratorContext, TruthEvents, registered_generators
from belleflow.kinematics import mass

_EXACT = dataclasses.replace(SUPERKEKB, ecms_spread=0.0)


def _run(name: str, n: int, seed: int = 1, **params: object) -> TruthEvents:
    context = GeneratorContext(_EXACT, np.random.default_rng(seed), params)
    return registered_generators()[name](n, context)


def _sum(parts: ak.Array) -> dict[str, np.ndarray]:
    return {c: ak.to_numpy(ak.sum(parts[c], axis=1)) for c in ("px", "py", "pz", "E")}


@pytest.mark.parametrize("name", ["zprime_lmu_ltau", "muonphilic_scalar"])
@pytest.mark.parametrize("m", [0.212, 1.0, 5.0, 9.0])
def test_resonance_at_its_mass_and_beam_balance(name: str, m: float) -> None:
    truth = _run(name, 300, mass=m)
    parts = truth.particles
    code = DARK_PDG["Zprime"] if name == "zprime_lmu_ltau" else DARK_PDG["S_mu"]
    x_index = ak.local_index(parts)[code == parts.PDG]
    assert ak.all(ak.num(x_index) == 1)
    daughters = parts[parts.mother == x_index[:, 0]]
    assert ak.all(ak.sort(daughters.PDG, axis=1)[:, 0] == -13)
    assert ak.all(ak.sort(daughters.PDG, axis=1)[:, 1] == 13)
    s = _sum(daughters)
    m_rec = np.sqrt(s["E"] ** 2 - s["px"] ** 2 - s["py"] ** 2 - s["pz"] ** 2)
    np.testing.assert_allclose(m_rec, m, rtol=1e-9)
    # Final state (4 muons) balances the beams in the lab.
    final = parts[(code != parts.PDG)]
    total = _sum(final)
    beam = _EXACT.beam_p4
    for comp, ref in (("px", beam.px), ("py", beam.py), ("pz", beam.pz), ("E", beam.E)):
        np.testing.assert_allclose(total[comp], ref, atol=1e-9 * beam.E)
    assert np.all(truth.weight >= 1.0)


def test_zprime_radiation_prefers_collinear_emission() -> None:
    # The emission factor peaks with X along a muon: the opening angle between
    # X and the nearer muon is small much more often than in flat phase space.
    parts = _run("zprime_lmu_ltau", 2000, mass=0.5, ctau=0.0).particles
    x = parts[DARK_PDG["Zprime"] == parts.PDG][:, 0]
    mus = parts[(np.abs(parts.PDG) == 13) & (parts.mother == -1)]

    def unit(p: ak.Array) -> np.ndarray:
        v = np.stack([ak.to_numpy(p.px), ak.to_numpy(p.py), ak.to_numpy(p.pz)], axis=-1)
        return np.asarray(v / np.linalg.norm(v, axis=-1, keepdims=True))

    ux = unit(x)
    angles = [np.arccos(np.clip(np.sum(ux * unit(mus[:, i]), axis=1), -1, 1)) for i in (0, 1)]
    nearest = np.minimum(*angles)
    rng = np.random.default_rng(2)
    m_mu = mass(13)
    flat = n_body(
        rng, np.tile([0.0, 0.0, 0.0, _EXACT.ecms], (2000, 1)), np.tile([m_mu, m_mu, 0.5], (2000, 1))
    )
    flat_u = flat[:, :, :3] / np.linalg.norm(flat[:, :, :3], axis=2, keepdims=True)
    flat_angles = [
        np.arccos(np.clip(np.sum(flat_u[:, 2] * flat_u[:, i], 1), -1, 1)) for i in (0, 1)
    ]
    flat_nearest = np.minimum(*flat_angles)
    assert np.mean(nearest < 0.5) > 2.0 * np.mean(flat_nearest < 0.5)


def test_displaced_signal_decay() -> None:
    ctau = 2.0
    parts = _run("zprime_lmu_ltau", 2000, mass=1.0, ctau=ctau).particles
    x = parts[DARK_PDG["Zprime"] == parts.PDG][:, 0]
    d = parts[parts.mother == 2][:, 0]
    length = np.sqrt(d.prodVertexX**2 + d.prodVertexY**2 + d.prodVertexZ**2).to_numpy()
    p = np.sqrt(x.px**2 + x.py**2 + x.pz**2).to_numpy()
    scaled = length / (p / 1.0 * ctau)
    assert stats.kstest(scaled, "expon").pvalue > 1e-3


def test_signal_needs_mass_and_range() -> None:
    with pytest.raises(ValueError, match="mass"):
        _run("zprime_lmu_ltau", 10)
    with pytest.raises(ValueError, match="outside"):
        _run("zprime_lmu_ltau", 10, mass=10.0)


def test_register_signal_twice_fails() -> None:
    model = registered_signals()["zprime_lmu_ltau"]
    with pytest.raises(ValueError, match="already"):
        register_signal(dataclasses.replace(model))
    assert isinstance(model, SignalModel)


def test_b_to_k_x_with_invisible_and_displaced_x() -> None:
    ctx = GeneratorContext(_EXACT, np.random.default_rng(3))
    x = dark_species(DARK_PDG["S"], 1.5, 10.0, (13, -13), 0)
    parts = b_to_h_x(500, ctx, 521, 321, x).particles
    s_idx = ak.local_index(parts)[DARK_PDG["S"] == parts.PDG][:, 0]
    b_mother = parts.mother[ak.local_index(parts) == s_idx[:, None]][:, 0]
    assert ak.all(np.abs(parts.PDG[ak.local_index(parts) == b_mother[:, None]][:, 0]) == 521)
    kids = parts[parts.mother == s_idx[:, None]]
    assert ak.all(ak.num(kids) == 2)
    s = _sum(kids)
    np.testing.assert_allclose(
        np.sqrt(s["E"] ** 2 - s["px"] ** 2 - s["py"] ** 2 - s["pz"] ** 2), 1.5, rtol=1e-9
    )
    assert np.median(np.abs(ak.to_numpy(kids.prodVertexZ[:, 0]))) > 1.0
    # Invisible: no daughters at all.
    inv = dark_species(DARK_PDG["a"], 1.0, 0.0, None, 0)
    parts = b_to_h_x(50, ctx, 511, 313, inv).particles
    a_idx = ak.local_index(parts)[DARK_PDG["a"] == parts.PDG][:, 0]
    assert ak.all(ak.num(parts[parts.mother == a_idx[:, None]]) == 0)
    assert mass(313) > 0
