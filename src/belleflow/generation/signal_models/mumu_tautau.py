"""Signals of the ``mumu_tautau`` channel: a tau-pair resonance X in e+e- -> mu+mu- X.

Belle II, PRL 131, 121802 (2023), arXiv:2306.12294: X radiated off the muon
line of e+e- -> mu+mu-, X -> tau+tau-, 3.6 < m(X) < 10 GeV. Two models:

* ``zprime_mumu_tautau``: the Z' of gauged L_mu - L_tau (spin 1);
* ``scalar_mumu_tautau``: a leptophilic scalar S (spin 0) with Yukawa
  couplings ``xi m_l / v``, radiated off the muons.

The taus decay through the tau table of
:mod:`belleflow.generation.decays` (all modes, flat phase space).

Rate estimates for the coupling limits (``zprime_reference_fb``,
``scalar_reference_fb``) are leading-log estimates, kept here in one place:
see their docstrings and ``docs/channels/mumu_tautau.md``.
"""

from __future__ import annotations

import math

from belleflow.generation.signals import (
    DARK_PDG,
    SignalModel,
    boson_off_muon_line,
    register_signal,
)
from belleflow.kinematics import mass as pdg_mass
from belleflow.processes import NOMINAL_ECMS, get_process

__all__ = [
    "MASS_RANGE",
    "SCALAR_MUMU_TAUTAU",
    "ZPRIME_MUMU_TAUTAU",
    "scalar_reference_fb",
    "scalar_tautau_fraction",
    "zprime_reference_fb",
    "zprime_tautau_fraction",
]

#: Published mass range of the search, GeV.
MASS_RANGE = (3.6, 10.0)


def _width_factor(mass: float, lepton: int, spin: int) -> float:
    # Imported here: the two signal modules are imported by the generators
    # package in either order, so neither may need the other at import time.
    from belleflow.generation.signal_models.leptophilic_scalar import (  # noqa: PLC0415
        lepton_pair_width_factor,
    )

    return lepton_pair_width_factor(mass, lepton, spin)


def zprime_tautau_fraction(mass: float) -> float:
    """B(Z' -> tau+tau-) of the L_mu - L_tau Z'.

    Z' decays to mu+mu-, tau+tau- and (left-handed) nu_mu and nu_tau pairs,
    each neutrino pair at half the width of a massless charged-lepton pair.
    """
    f_mu = _width_factor(mass, 13, 1)
    f_tau = _width_factor(mass, 15, 1)
    return f_tau / (f_mu + f_tau + 1.0)


def scalar_tautau_fraction(mass: float) -> float:
    """B(S -> tau+tau-) of a leptophilic scalar (widths ``~ m_l^2 beta^3``; e, mu, tau)."""
    widths = {lep: pdg_mass(lep) ** 2 * _width_factor(mass, lep, 0) for lep in (11, 13, 15)}
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
    from belleflow.generation.signal_models.leptophilic_scalar import HIGGS_VEV  # noqa: PLC0415

    sigma_mumu_fb = get_process("mumu").cross_section_nb * 1e6
    y = xi * pdg_mass(13) / HIGGS_VEV
    return (
        sigma_mumu_fb
        * _emission_probability(y * y / (4.0 * math.pi), mass, roots, 0)
        * scalar_tautau_fraction(mass)
    )


ZPRIME_MUMU_TAUTAU = register_signal(
    SignalModel(
        name="zprime_mumu_tautau",
        description="L_mu - L_tau Z' radiated off a muon, Z' -> tau+tau-",
        production="e+e- -> mu+mu- Z' (Z' off the muon line)",
        decay="Z' -> tau+tau-, taus decayed by the tau table",
        generate=boson_off_muon_line(1, DARK_PDG["Zprime"], (15, -15)),
        parameters={"coupling": 0.1},
        limit_units="fb (sigma x B); g'",
        mass_range=MASS_RANGE,
    )
)

SCALAR_MUMU_TAUTAU = register_signal(
    SignalModel(
        name="scalar_mumu_tautau",
        description="Leptophilic scalar S radiated off a muon, S -> tau+tau-",
        production="e+e- -> mu+mu- S (S off the muon line)",
        decay="S -> tau+tau-, taus decayed by the tau table",
        generate=boson_off_muon_line(0, DARK_PDG["phi_L"], (15, -15)),
        parameters={"xi": 1.0},
        limit_units="fb (sigma x B); xi",
        mass_range=MASS_RANGE,
    )
)
