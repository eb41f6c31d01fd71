"""A tau-pair resonance X radiated off muons (e+e- -> mu+mu- X, X -> tau+tau-): reference rates.

Belle II, PRL 131, 121802 (2023), arXiv:2306.12294; the generators are in
:mod:`belleflow.generation.signal_models.mumu_tautau`. The rates are
leading-log estimates, kept here in one place (``docs/channels/mumu_tautau.md``).
"""

from __future__ import annotations

import math

from belleflow.kinematics import mass as pdg_mass
from belleflow.processes import NOMINAL_ECMS, get_process
from belleflow.theory.leptophilic_scalar import HIGGS_VEV, lepton_pair_width_factor

__all__ = [
    "MASS_RANGE",
    "scalar_reference_fb",
    "scalar_tautau_fraction",
    "zprime_reference_fb",
    "zprime_tautau_fraction",
]

#: Published mass range of the search, GeV.
MASS_RANGE = (3.6, 10.0)


def zprime_tautau_fraction(mass: float) -> float:
    """B(Z' -> tau+tau-) of the L_mu - L_tau Z'.

    Z' decays to mu+mu-, tau+tau- and (left-handed) nu_mu and nu_tau pairs,
    each neutrino pair at half the width of a massless charged-lepton pair.
    """
    f_mu = lepton_pair_width_factor(mass, 13, 1)
    f_tau = lepton_pair_width_factor(mass, 15, 1)
    return f_tau / (f_mu + f_tau + 1.0)


def scalar_tautau_fraction(mass: float) -> float:
    """B(S -> tau+tau-) of a leptophilic scalar (widths ``~ m_l^2 beta^3``; e, mu, tau)."""
    widths = {
        lep: pdg_mass(lep) ** 2 * lepton_pair_width_factor(mass, lep, 0) for lep in (11, 13, 15)
    }
    return widths[15] / sum(widths.values())


def _emission_probability(alpha_x: float, mass: float, roots: float, spin: int) -> float:
    """Leading-log probability that a mu pair radiates X (mass ``mass``).

    Spin 1: the soft-collinear double log ``(alpha_x / pi) ln^2(s/m^2) / 2``
    (the same estimate as the mumumumu cross section in
    :mod:`belleflow.processes`, for a fixed boson mass); spin 0: the
    collinear, not soft-enhanced Yukawa emission ``(alpha_x / pi) ln(s/m^2) / 2``.
    Both are multiplied by ``(1 - m/sqrt(s))^2``, a crude phase-space
    suppression that makes the rate vanish at the kinematic end point.
    """
    s = roots * roots
    log = max(math.log(s / mass**2), 0.0)
    core = 0.5 * log * log if spin == 1 else 0.5 * log
    return alpha_x / math.pi * core * (1.0 - mass / roots) ** 2


def zprime_reference_fb(mass: float, coupling: float = 1.0, roots: float = NOMINAL_ECMS) -> float:
    """Estimated sigma(e+e- -> mu+mu- Z') x B(Z' -> tau+tau-) in fb at ``g' = coupling``.

    sigma(mu mu) (Physics Book) times the leading-log emission probability
    with ``alpha' = g'^2 / 4 pi`` times the tau-pair branching fraction.
    An order-of-magnitude estimate: the coupling limits inherit its uncertainty.
    """
    sigma_mumu_fb = get_process("mumu").cross_section_nb * 1e6
    alpha_x = coupling * coupling / (4.0 * math.pi)
    return (
        sigma_mumu_fb
        * _emission_probability(alpha_x, mass, roots, 1)
        * zprime_tautau_fraction(mass)
    )


def scalar_reference_fb(mass: float, xi: float = 1.0, roots: float = NOMINAL_ECMS) -> float:
    """Estimated sigma(e+e- -> mu+mu- S) x B(S -> tau+tau-) in fb at coupling ``xi``.

    The muon Yukawa coupling is ``xi m_mu / v``; as :func:`zprime_reference_fb`,
    an order-of-magnitude estimate.
    """
    sigma_mumu_fb = get_process("mumu").cross_section_nb * 1e6
    y = xi * pdg_mass(13) / HIGGS_VEV
    return (
        sigma_mumu_fb
        * _emission_probability(y * y / (4.0 * math.pi), mass, roots, 0)
        * scalar_tautau_fraction(mass)
    )
