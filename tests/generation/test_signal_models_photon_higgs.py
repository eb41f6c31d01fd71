"""Signal models alp_photon and dark_higgsstrahlung: kinematics, decays, rates."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

import belleflow.generation.registry  # noqa: F401 - registers every generator
from belleflow.beams import get_machine
from belleflow.generation.signal_models import alp_photon, dark_higgsstrahlung
from belleflow.generation.signals import DARK_PDG, registered_signals
from belleflow.generation.truth import GeneratorContext, registered_generators
from belleflow.kinematics import invariant_mass, to_cm


def _p4(particles: ak.Array) -> ak.Array:
    return ak.zip(
        {"px": particles.px, "py": particles.py, "pz": particles.pz, "E": particles.E},
        with_name="Momentum4D",
    )


def _generate(model: str, n: int, machine: str, **params: float) -> ak.Array:
    context = GeneratorContext(get_machine(machine), np.random.default_rng(2), params)
    return registered_generators()[model](n, context).particles


def test_models_registered() -> None:
    names = registered_signals()
    assert "alp_photon" in names
    assert "dark_higgsstrahlung" in names
    for m in dark_higgsstrahlung.AP_MASSES:
        assert dark_higgsstrahlung.model_name(m) in names
    assert dark_higgsstrahlung.model_name(0.5) == "dark_higgsstrahlung_ap0p5"


def test_alp_kinematics() -> None:
    machine = get_machine("SuperKEKB")
    mass = 3.0
    particles = _generate("alp_photon", 4000, "SuperKEKB", mass=mass, smear_ecms=False)
    alp = particles[DARK_PDG["a"] == particles.PDG]
    assert ak.all(ak.num(alp) == 1)
    photons = particles[(particles.PDG == 22) & (particles.mother >= 0)]
    assert ak.all(ak.num(photons) == 2)
    m_gg = invariant_mass(_p4(photons[:, 0]), _p4(photons[:, 1]))
    assert np.allclose(ak.to_numpy(m_gg), mass, atol=1e-6)
    recoil = particles[(particles.PDG == 22) & (particles.mother < 0)][:, 0]
    cm = to_cm(_p4(recoil), machine)
    s = machine.ecms**2
    assert np.allclose(ak.to_numpy(cm.E), (s - mass**2) / (2 * machine.ecms), rtol=1e-6)
    # 1 + cos^2: <cos^2> = 2/5.
    cos = ak.to_numpy(cm.pz / cm.E)
    assert abs(np.mean(cos**2) - 0.4) < 0.02


def test_alp_rate_and_lifetime() -> None:
    sigma = alp_photon.alp_cross_section_fb(1.0, 1e-3)
    assert 100.0 < sigma < 130.0
    assert alp_photon.alp_cross_section_fb(1.0, 2e-3) == pytest.approx(4 * sigma)
    assert alp_photon.alp_ctau_cm(0.2, 1e-3) < 1e-2  # prompt


@pytest.mark.parametrize(("ap", "hp"), [(0.3, 4.0), (1.0, 6.0)])
def test_higgsstrahlung_kinematics(ap: float, hp: float) -> None:
    particles = _generate(dark_higgsstrahlung.model_name(ap), 2000, "KEKB", mass=hp)
    pdg = particles.PDG
    aps = particles[pdg == dark_higgsstrahlung.AP_PDG]
    assert ak.all(ak.num(aps) == 3)
    assert np.allclose(ak.to_numpy(ak.flatten(invariant_mass(_p4(aps)))), ap, rtol=1e-6)
    hps = particles[pdg == dark_higgsstrahlung.HP_PDG]
    assert np.allclose(ak.to_numpy(ak.flatten(invariant_mass(_p4(hps)))), hp, rtol=1e-6)
    charged = particles[(abs(pdg) == 11) | (abs(pdg) == 13) | (abs(pdg) == 211)]
    assert ak.all(ak.num(charged) == 6)
    # At m_A' = 0.3 GeV pi+pi- is barely open (B = 1 %): almost only leptons.
    pion_fraction = ak.sum(abs(charged.PDG) == 211) / ak.count(charged.PDG)
    assert pion_fraction < (0.05 if ap < 0.5 else 0.5)


def test_higgsstrahlung_rejects_closed_decay() -> None:
    with pytest.raises(ValueError, match="must exceed"):
        _generate("dark_higgsstrahlung", 10, "KEKB", mass=0.5, ap_mass=0.3)
    with pytest.raises(ValueError, match="ap_mass"):
        _generate("dark_higgsstrahlung", 10, "KEKB", mass=2.0)
    with pytest.raises(ValueError, match="fixed"):
        _generate(dark_higgsstrahlung.model_name(1.0), 10, "KEKB", mass=4.0, ap_mass=0.5)


def test_branching_fractions() -> None:
    for m in (0.15, 0.5, 0.775, 1.02, 2.0, 3.4):
        b = dark_higgsstrahlung.ap_branching_fractions(m)
        assert sum(b.values()) == pytest.approx(1.0)
        assert all(v >= 0.0 for v in b.values())
    assert dark_higgsstrahlung.ap_branching_fractions(0.15)["ee"] == pytest.approx(1.0)
    # The rho dominates at its mass; the phi makes the A' mostly K Kbar ("other").
    assert dark_higgsstrahlung.ap_branching_fractions(0.775)["pipi"] > 0.4
    assert dark_higgsstrahlung.ap_branching_fractions(1.0195)["other"] > 0.8
    # Lepton universality well above threshold.
    b = dark_higgsstrahlung.ap_branching_fractions(2.0)
    assert b["ee"] == pytest.approx(b["mumu"], rel=0.01)


def test_higgsstrahlung_cross_section() -> None:
    xs = dark_higgsstrahlung.higgsstrahlung_cross_section_fb
    assert xs(0.5, 2.0, 1e-9) == pytest.approx(0.024, rel=0.05)
    assert xs(0.5, 2.0, 2e-9) == pytest.approx(2 * xs(0.5, 2.0, 1e-9))
    assert xs(3.0, 7.9) == 0.0  # above threshold
