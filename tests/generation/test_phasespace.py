"""Tests of the vectorised phase-space helpers."""

from __future__ import annotations

import numpy as np
import pytest

from belleflow.generation.phasespace import (
    boost,
    boost_to_rest,
    kallen_momentum,
    mass_of,
    n_body,
    one_plus_a_cos2,
    two_body,
)


def test_two_body_conserves_and_keeps_masses() -> None:
    rng = np.random.default_rng(1)
    parent = np.tile([0.3, -0.2, 2.0, np.sqrt(0.13 + 4.0 + 1.0)], (1000, 1))
    a, b = two_body(rng, parent, 0.1396, 0.4937)
    np.testing.assert_allclose(a + b, parent, atol=1e-12)
    np.testing.assert_allclose(mass_of(a), 0.1396, atol=1e-9)
    np.testing.assert_allclose(mass_of(b), 0.4937, atol=1e-9)


def test_two_body_momentum_in_rest_frame() -> None:
    rng = np.random.default_rng(2)
    parent = np.tile([0.0, 0.0, 3.0, 5.0], (100, 1))
    a, _ = two_body(rng, parent, 0.5, 0.5)
    q = np.linalg.norm(boost_to_rest(a, parent)[:, :3], axis=1)
    np.testing.assert_allclose(q, kallen_momentum(4.0, 0.5, 0.5), rtol=1e-10)


def test_boost_round_trip() -> None:
    rng = np.random.default_rng(3)
    p = rng.normal(size=(50, 4))
    p[:, 3] = np.linalg.norm(p[:, :3], axis=1) + 1.0
    beta = np.array([0.1, 0.2, 0.5])
    np.testing.assert_allclose(boost(boost(p, beta), -beta), p, atol=1e-12)


@pytest.mark.parametrize("k", [3, 5])
def test_n_body_conserves_and_is_flat_dalitz(k: int) -> None:
    rng = np.random.default_rng(4)
    n = 20000
    parent = np.tile([0.0, 0.0, 0.0, 1.0], (n, 1))
    masses = np.full((n, k), 0.1)
    d = n_body(rng, parent, masses)
    np.testing.assert_allclose(d.sum(axis=1), parent, atol=1e-12)
    if k == 3:
        # Flat Dalitz plot: m12^2 symmetric about the centre of its allowed band
        # in the region where the band is full width, and mean of m12^2 = m13^2.
        m12 = mass_of(d[:, 0] + d[:, 1]) ** 2
        m13 = mass_of(d[:, 0] + d[:, 2]) ** 2
        assert abs(np.mean(m12) - np.mean(m13)) < 0.01
        # Analytic mean of m12^2 over flat 3-body phase space (equal masses) is
        # (M^2 + 3 m^2)/3 by symmetry: sum of the three m_ij^2 = M^2 + 3 m^2.
        assert abs(np.mean(m12) - (1.0 + 3 * 0.01) / 3.0) < 0.005


def test_one_plus_cos2_moments() -> None:
    c = one_plus_a_cos2(-1.0)(np.random.default_rng(5), 100000)
    # sin^2: <cos^2> = 1/5.
    assert abs(float(np.mean(c**2)) - 0.2) < 0.005


def test_n_body_below_threshold() -> None:
    with pytest.raises(ValueError, match="below"):
        n_body(np.random.default_rng(0), np.array([[0.0, 0.0, 0.0, 0.2]]), np.full((1, 3), 0.1))
