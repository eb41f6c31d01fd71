"""Signal models of the tau channels: mumu_tautau (Z', S -> tau tau) and leptophilic_scalar."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from belleflow.beams import get_machine
from belleflow.generation.production import load_generators
from belleflow.generation.signal_models import leptophilic_scalar, mumu_tautau
from belleflow.generation.signals import DARK_PDG, registered_signals
from belleflow.generation.truth import GeneratorContext


def _generate(model: str, n: int, machine: str, **parameters: float) -> ak.Array:
    context = GeneratorContext(
        machine=get_machine(machine), rng=np.random.default_rng(5), parameters=parameters
    )
    return load_generators()[model](n, context).particles


def test_models_registered() -> None:
    models = registered_signals()
    assert {"zprime_mumu_tautau", "scalar_mumu_tautau", "leptophilic_scalar"} <= set(models)
    assert models["zprime_mumu_tautau"].mass_range == (3.6, 10.0)
    assert models["leptophilic_scalar"].mass_range == (0.04, 6.5)


@pytest.mark.parametrize("model", ["zprime_mumu_tautau", "scalar_mumu_tautau"])
def test_mumu_tautau_kinematics(model: str) -> None:
    particles = _generate(model, 200, "SuperKEKB", mass=5.0)
    pdg = particles.PDG
    x = particles[abs(pdg) > 9_000_000]
    assert ak.all(ak.num(x) == 1)
    m = np.sqrt(np.maximum(x.E**2 - x.px**2 - x.py**2 - x.pz**2, 0.0))
    assert np.allclose(ak.to_numpy(ak.flatten(m)), 5.0, atol=1e-6)
    # X -> tau+ tau-, both taus decayed (they are mothers of something).
    taus = particles[abs(pdg) == 15]
    assert ak.all(ak.num(taus) == 2)
    assert ak.all(ak.sum(particles.mother >= 0, axis=1) > 4)
    # The primary muons.
    assert ak.all(ak.sum((abs(pdg) == 13) & (particles.mother < 0), axis=1) == 2)


def test_mumu_tautau_threshold() -> None:
    with pytest.raises(ValueError, match="outside its range"):
        _generate("zprime_mumu_tautau", 10, "SuperKEKB", mass=3.0)


def test_branching_fractions() -> None:
    assert 0.3 < mumu_tautau.zprime_tautau_fraction(8.0) < 1.0 / 3.0
    assert mumu_tautau.zprime_tautau_fraction(3.6) < mumu_tautau.zprime_tautau_fraction(5.0)
    assert mumu_tautau.scalar_tautau_fraction(6.0) > 0.99
    assert leptophilic_scalar.dilepton_fraction(0.1) == pytest.approx(1.0)
    assert leptophilic_scalar.dilepton_fraction(5.0) < 0.05  # tau tau dominates
    # c tau of 1-5 cm at 40-100 MeV for xi = 1 (the displaced regime of the paper).
    assert 1.0 < leptophilic_scalar.phil_ctau_cm(0.04) < 5.0
    assert leptophilic_scalar.phil_ctau_cm(0.1, xi=2.0) == pytest.approx(
        leptophilic_scalar.phil_ctau_cm(0.1) / 4.0
    )
    assert mumu_tautau.zprime_reference_fb(5.0, 0.1) == pytest.approx(
        mumu_tautau.zprime_reference_fb(5.0) * 0.01
    )


@pytest.mark.parametrize(("mass", "lepton"), [(0.05, 11), (1.0, 13)])
def test_leptophilic_scalar_decay(mass: float, lepton: int) -> None:
    particles = _generate("leptophilic_scalar", 200, "KEKB", mass=mass, ctau=2.0)
    pdg = particles.PDG
    phi_index = ak.argmax(pdg == DARK_PDG["phi_L"], axis=1, keepdims=True)
    daughters = particles[particles.mother == ak.flatten(phi_index)[:, None]]
    assert ak.all(ak.num(daughters) == 2)
    assert set(np.unique(np.abs(ak.to_numpy(ak.flatten(daughters.PDG))))) == {lepton}
    # Displaced: the decay vertex lies at beta gamma c tau from the origin.
    first = daughters[:, 0]
    r = np.hypot(
        np.asarray(ak.fill_none(first.prodVertexX, 0.0), float),
        np.asarray(ak.fill_none(first.prodVertexY, 0.0), float),
    )
    assert np.median(r) > 1.0
    assert ak.all(ak.sum(abs(pdg) == 15, axis=1) == 2)
