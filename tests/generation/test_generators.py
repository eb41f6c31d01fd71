"""Physics tests of the registered background generators."""

from __future__ import annotations

import dataclasses

import awkward as ak
import numpy as np
import pytest
from scipy import stats

import belleflow.generation.registry  # noqa: F401 - registers every generator
from belleflow.beams import SUPERKEKB
from belleflow.generation.decays import STABLE, species
from belleflow.generation.generators.bbbar import CHI_D
from belleflow.generation.truth import GeneratorContext, TruthEvents, registered_generators
from belleflow.kinematics import cos_theta_cm, mass
from belleflow.processes import PROCESSES

#: SuperKEKB without CM-energy spread: every event has exactly the beam four-momentum.
_EXACT = dataclasses.replace(SUPERKEKB, ecms_spread=0.0)


def _run(name: str, n: int, seed: int = 1, **params: object) -> TruthEvents:
    context = GeneratorContext(_EXACT, np.random.default_rng(seed), params)
    return registered_generators()[name](n, context)


def _is_final(parts: ak.Array) -> ak.Array:
    idx = ak.local_index(parts)
    has_child = ak.any(parts.mother[:, None, :] == idx[:, :, None], axis=2)
    return ~has_child


def test_all_processes_have_generators() -> None:
    assert set(PROCESSES) <= set(registered_generators())


@pytest.mark.parametrize(
    "name", ["mumu", "ee", "gg", "tautau", "uubar", "ccbar", "BBcharged", "BBmixed", "eemumu"]
)
def test_final_state_sums_to_beam_in_lab(name: str) -> None:
    parts = _run(name, 200).particles
    fin = parts[_is_final(parts)]
    beam = _EXACT.beam_p4
    for comp, ref in (("px", beam.px), ("py", beam.py), ("pz", beam.pz), ("E", beam.E)):
        total = ak.to_numpy(ak.sum(fin[comp], axis=1))
        np.testing.assert_allclose(total, ref, rtol=0, atol=1e-9 * beam.E)


@pytest.mark.parametrize("name", ["tautau", "uubar", "ccbar", "BBmixed", "eetautau", "ggHadronic"])
def test_record_structure(name: str) -> None:
    parts = _run(name, 200).particles
    idx = ak.local_index(parts)
    assert ak.all(parts.mother < idx)
    assert ak.all(parts.mother >= -1)
    # Every unstable particle has daughters.
    final = _is_final(parts)
    pdg = ak.flatten(parts.PDG[final]).to_numpy()
    unstable = [p for p in np.unique(pdg) if abs(p) not in STABLE]
    assert unstable == []
    assert ak.all(ak.num(parts) > 0)


def test_same_seed_same_events_different_seed_different() -> None:
    a = _run("uubar", 100, seed=5).particles
    b = _run("uubar", 100, seed=5).particles
    c = _run("uubar", 100, seed=6).particles
    assert ak.to_list(a) == ak.to_list(b)
    assert ak.to_list(a) != ak.to_list(c)


def test_mumu_angular_law_and_radiative_tail() -> None:
    n = 20000
    parts = _run("mumu", n, isr=False, fsr=False).particles
    mu = parts[parts.PDG == 13][:, 0]
    vec = ak.zip({"px": mu.px, "py": mu.py, "pz": mu.pz, "E": mu.E}, with_name="Momentum4D")
    import vector  # noqa: PLC0415

    vector.register_awkward()
    c = ak.to_numpy(cos_theta_cm(vec, _EXACT))
    # 1 + cos^2 (massive: 1 + a cos^2 with a ~ 0.998): <cos^2> = 2/5.
    assert abs(float(np.mean(c**2)) - 0.4) < 0.01
    # With ISR: M(mu mu) has a radiative tail below sqrt(s).
    parts = _run("mumu", n).particles
    mus = parts[abs(parts.PDG) == 13]
    e, px, py, pz = (ak.to_numpy(ak.sum(mus[f], axis=1)) for f in ("E", "px", "py", "pz"))
    m = np.sqrt(e**2 - px**2 - py**2 - pz**2)
    ratio = m / _EXACT.ecms
    # Leading-log ISR with the 1/s' rise: P(x < 0.01) = 0.01^beta (beta = 0.088)
    # of the soft part (78 % of events) = 0.52; the radiative return below
    # 0.9 sqrt(s) is about a third of the events (sigma(mumu(gamma))/sigma_Born ~ 1.5).
    assert 0.45 < np.mean(ratio > 0.99) < 0.6
    assert 0.25 < np.mean(ratio < 0.9) < 0.45
    assert ratio.min() < 0.1


def test_bhabha_forward_peak_in_window() -> None:
    parts = _run("ee", 20000, fsr=False).particles
    e = parts[parts.PDG == 11][:, 0]
    import vector  # noqa: PLC0415

    vector.register_awkward()
    vec = ak.zip({"px": e.px, "py": e.py, "pz": e.pz, "E": e.E}, with_name="Momentum4D")
    c = ak.to_numpy(cos_theta_cm(vec, _EXACT))
    assert c.max() <= np.cos(np.radians(10.0)) + 1e-9
    assert c.min() >= np.cos(np.radians(170.0)) - 1e-9
    # t-channel: the e- goes forward in most events (analytic ratio about 0.99).
    assert np.mean(c > 0) > 0.95


@pytest.mark.parametrize(("name", "b"), [("BBcharged", 521), ("BBmixed", 511)])
def test_bb_codes(name: str, b: int) -> None:
    parts = _run(name, 500).particles
    assert ak.all(parts.PDG[:, 0] == 300553)
    pair = parts.PDG[parts.mother == 0]
    assert ak.all(ak.num(pair) == 2)
    ordered = ak.to_numpy(ak.sort(pair, axis=1))
    assert np.all(ordered == np.array([-b, b]))


def test_bb_charged_to_mixed_ratio_from_cross_sections() -> None:
    ratio = PROCESSES["BBcharged"].cross_section_nb / PROCESSES["BBmixed"].cross_section_nb
    assert ratio == pytest.approx(0.514 / 0.486, rel=1e-9)


def test_b0_mixing_fraction() -> None:
    n = 4000
    parts = _run("BBmixed", n).particles
    b_idx = ak.local_index(parts)[np.abs(parts.PDG) == 511]
    # An oscillated B has exactly one daughter, the opposite-flavour B.
    child = parts.PDG[(parts.mother >= 1) & (parts.mother <= 2)]
    mixed = ak.any((np.abs(child) == 511), axis=1)
    frac = float(ak.mean(mixed))
    assert abs(frac - CHI_D) < 5 * np.sqrt(CHI_D * (1 - CHI_D) / n)
    assert ak.all(ak.num(b_idx) >= 2)


def test_jpsi_in_b_decays_reconstructs_at_its_mass() -> None:
    parts = _run("BBcharged", 4000, seed=3).particles
    idx = ak.local_index(parts)
    jpsi = idx[parts.PDG == 443]
    assert ak.sum(ak.num(jpsi)) > 5
    pairs = ak.cartesian([jpsi, parts], nested=False)
    j, p = ak.unzip(pairs)
    daughters = p[p.mother == j]
    sums = {c: ak.to_numpy(ak.sum(daughters[c], axis=1)) for c in ("px", "py", "pz", "E")}
    m = np.sqrt(sums["E"] ** 2 - sums["px"] ** 2 - sums["py"] ** 2 - sums["pz"] ** 2)
    m = m[sums["E"] > 0]
    np.testing.assert_allclose(m, mass(443), rtol=1e-9)


@pytest.mark.parametrize(("code", "flavour"), [(310, "uubar"), (3122, "ssbar")])
def test_ks_lambda_displaced_in_continuum(code: int, flavour: str) -> None:
    parts = _run(flavour, 3000, seed=4).particles
    idx = ak.local_index(parts)
    mothers = ak.flatten(idx[code == parts.PDG] + 0 * ak.num(parts)[:, None])
    assert len(mothers) > 20
    ev = ak.flatten(
        ak.broadcast_arrays(ak.local_index(parts, axis=0), parts.PDG)[0][code == parts.PDG]
    )
    sel = parts[ev.to_numpy()]
    mom = sel[ak.local_index(sel) == mothers[:, None]][:, 0]
    daughters = sel[sel.mother == mothers[:, None]][:, 0]
    length = np.sqrt(
        (daughters.prodVertexX - mom.prodVertexX) ** 2
        + (daughters.prodVertexY - mom.prodVertexY) ** 2
        + (daughters.prodVertexZ - mom.prodVertexZ) ** 2
    ).to_numpy()
    s = species(code)
    assert s is not None
    p = np.sqrt(mom.px**2 + mom.py**2 + mom.pz**2).to_numpy()
    scaled = length / (p / s.mass * s.ctau)
    assert np.all(length > 0)
    assert stats.kstest(scaled, "expon").pvalue > 1e-3
