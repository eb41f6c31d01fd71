"""Leptophilic scalar phi_L (Yukawa couplings ``xi m_l / v``): widths, lifetime, reference rate.

Belle, PRD 109, 032002 (2024), arXiv:2207.07476 (e+e- -> tau+tau- phi_L,
phi_L -> l+l-); the generator is
:mod:`belleflow.generation.signal_models.leptophilic_scalar`.
"""

from __future__ import annotations

import math

from belleflow.kinematics import mass as pdg_mass
from belleflow.processes import NOMINAL_ECMS, get_process

__all__ = [
    "HBAR_C_GEV_CM",
    "HIGGS_VEV",
    "MASS_RANGE",
    "decay_lepton",
    "dilepton_fraction",
    "lepton_pair_width_factor",
    "phil_ctau_cm",
    "phil_reference_fb",
    "phil_width",
]

#: Published mass range, GeV.
MASS_RANGE = (0.04, 6.5)

#: Higgs vacuum expectation value, GeV (PDG: (sqrt(2) G_F)^(-1/2)); sets the
#: leptophilic-scalar Yukawa couplings ``xi m_l / v``.
HIGGS_VEV = 246.22


def lepton_pair_width_factor(mass: float, lepton: int, spin: int) -> float:
    """Phase-space factor of X -> l+l- (X mass ``mass``, GeV) relative to massless leptons.

    Spin 1 (vector coupling): ``(1 + 2r) sqrt(1 - 4r)``; spin 0 (Yukawa):
    ``(1 - 4r)^(3/2)``, with ``r = m_l^2 / m^2``; 0 below threshold.
    """
    r = pdg_mass(lepton) ** 2 / mass**2
    if 4.0 * r >= 1.0:
        return 0.0
    if spin == 1:
        return (1.0 + 2.0 * r) * math.sqrt(1.0 - 4.0 * r)
    return float((1.0 - 4.0 * r) ** 1.5)


#: hbar c in GeV cm (CODATA 2018), to turn widths into decay lengths.
HBAR_C_GEV_CM = 1.973269804e-14


def decay_lepton(mass: float) -> int:
    """PDG code of the lepton phi_L decays to in this model: e below 2 m_mu, mu above."""
    return 11 if mass < 2.0 * pdg_mass(13) else 13


def phil_width(mass: float, xi: float = 1.0) -> float:
    """Total width of phi_L (GeV): ``sum_l xi^2 m_l^2 m beta_l^3 / (8 pi v^2)`` over e, mu, tau.

    The loop decay to two photons is neglected (it matters only where the
    dilepton widths are tiny, i.e. nowhere in 0.04-6.5 GeV for xi >= 0.1).
    """
    total = 0.0
    for lepton in (11, 13, 15):
        y = xi * pdg_mass(lepton) / HIGGS_VEV
        total += y * y * mass * lepton_pair_width_factor(mass, lepton, 0) / (8.0 * math.pi)
    return total


def phil_ctau_cm(mass: float, xi: float = 1.0) -> float:
    """Proper decay length c tau of phi_L in cm for coupling ``xi``."""
    return HBAR_C_GEV_CM / phil_width(mass, xi)


def dilepton_fraction(mass: float) -> float:
    """B(phi_L -> l+l-) for the lepton of :func:`decay_lepton` (independent of xi)."""
    lepton = decay_lepton(mass)
    y = pdg_mass(lepton) / HIGGS_VEV
    partial = y * y * mass * lepton_pair_width_factor(mass, lepton, 0) / (8.0 * math.pi)
    return partial / phil_width(mass, 1.0)


def phil_reference_fb(mass: float, xi: float = 1.0, roots: float = NOMINAL_ECMS) -> float:
    """Estimated sigma(e+e- -> tau+tau- phi_L) x B(phi_L -> l+l-) in fb at coupling ``xi``.

    ``sigma(tau tau) (alpha_phi / pi) (ln(s/m_tau^2) - 1) / 2 (1 - m/(sqrt(s) - 2 m_tau))^2``
    with ``alpha_phi = (xi m_tau / v)^2 / 4 pi``: the leading collinear log
    of Yukawa emission (not soft-enhanced) off either tau, times a crude
    phase-space suppression. An order-of-magnitude estimate (a factor 2-3);
    the xi limits inherit its uncertainty (``docs/channels/tautau_phil.md``).
    """
    m_tau = pdg_mass(15)
    sigma_tautau_fb = get_process("tautau").cross_section_nb * 1e6
    y = xi * m_tau / HIGGS_VEV
    log = max(math.log(roots * roots / m_tau**2) - 1.0, 0.0)
    suppression = max(1.0 - mass / (roots - 2.0 * m_tau), 0.0) ** 2
    emission = y * y / (4.0 * math.pi) / math.pi * 0.5 * log * suppression
    return sigma_tautau_fb * emission * dilepton_fraction(mass)
