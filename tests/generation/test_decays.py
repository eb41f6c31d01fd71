"""Tests of the decay tables and of the decaying event record."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from belleflow.generation.decays import DECAY_TABLE, STABLE, EventRecord, conjugate, species


def test_tables_are_normalised_and_conjugated() -> None:
    for pdg, s in DECAY_TABLE.items():
        assert sum(c.br for c in s.channels) == pytest.approx(1.0, abs=1e-9), pdg
        bar = conjugate(pdg)
        assert bar in DECAY_TABLE, pdg
    # Charge conservation in every channel.
    from particle import Particle  # noqa: PLC0415

    for pdg, s in DECAY_TABLE.items():
        q = Particle.from_pdgid(pdg).charge
        for c in s.channels:
            assert sum(Particle.from_pdgid(d).charge for d in c.daughters) == q, (pdg, c)


def test_every_daughter_is_stable_or_has_a_table() -> None:
    for s in DECAY_TABLE.values():
        for c in s.channels:
            for d in c.daughters:
                assert abs(d) in STABLE or d in DECAY_TABLE, (s.pdg, d)


def test_tau_branching_fractions() -> None:
    n = 40000
    record = EventRecord(n)
    record.add(np.arange(n), 15, np.tile([0.0, 0.0, 0.0, 1.77693], (n, 1)))
    record.decay_all(np.random.default_rng(7))
    truth = record.build()
    pdg = truth.particles.PDG
    mother = truth.particles.mother
    import awkward as ak  # noqa: PLC0415

    direct = pdg[mother == 0]
    e = ak.any(direct == 11, axis=1)
    mu = ak.any(direct == 13, axis=1)
    pi_only = (ak.num(direct) == 2) & ak.any(direct == -211, axis=1)
    for sel, expected in ((e, 0.1782), (mu, 0.1739), (pi_only, 0.1082)):
        frac = float(ak.mean(sel))
        sigma = np.sqrt(expected * (1 - expected) / n)
        assert abs(frac - expected) < 5 * sigma, (frac, expected)


def test_displaced_decay_lengths_are_exponential() -> None:
    n = 5000
    rng = np.random.default_rng(8)
    p = np.tile([0.0, 0.6, 0.8, 0.0], (n, 1))
    m_ks = species(310)
    assert m_ks is not None
    p[:, 3] = np.sqrt(1.0 + m_ks.mass**2)
    record = EventRecord(n)
    record.add(np.arange(n), 310, p)
    record.decay_all(rng)
    parts = record.build().particles
    import awkward as ak  # noqa: PLC0415

    d = parts[parts.mother == 0][:, 0]
    length = np.sqrt(d.prodVertexX**2 + d.prodVertexY**2 + d.prodVertexZ**2).to_numpy()
    scaled = length / (1.0 / m_ks.mass * m_ks.ctau)
    assert stats.kstest(scaled, "expon").pvalue > 1e-3
    # The decay is along the K_S momentum.
    np.testing.assert_allclose(ak.to_numpy(d.prodVertexX), 0.0, atol=1e-12)


def test_mother_indices_point_backwards() -> None:
    n = 300
    record = EventRecord(n)
    record.add(np.arange(n), 521, np.tile([0.0, 0.0, 1.0, np.sqrt(1 + 5.279**2)], (n, 1)))
    record.decay_all(np.random.default_rng(9))
    parts = record.build().particles
    import awkward as ak  # noqa: PLC0415

    idx = ak.local_index(parts)
    assert ak.all(parts.mother < idx)
    assert ak.all(parts.mother >= -1)
