"""Dark Higgsstrahlung e+e- -> A' h', h' -> A'A': mass ranges, grid, A' decays, cross section.

Belle, PRL 114, 211801 (2015), arXiv:1502.00084; the generator is
:mod:`belleflow.generation.signal_models.dark_higgsstrahlung`.
"""

from __future__ import annotations

import math

from particle import Particle
from scipy.constants import physical_constants  # type: ignore[import-untyped]

from belleflow.kinematics import mass as pdg_mass
from belleflow.processes import NOMINAL_ECMS
from belleflow.theory import ALPHA

__all__ = [
    "AP_MASSES",
    "AP_MASS_RANGE",
    "HP_MASS_RANGE",
    "ap_branching_fractions",
    "higgsstrahlung_cross_section_fb",
    "kallen",
    "model_name",
    "r_ratio",
    "visible_fraction",
]

#: Published A' and h' mass ranges, GeV.
AP_MASS_RANGE = (0.1, 3.5)
HP_MASS_RANGE = (0.2, 10.5)

#: The A' masses of the catalogue grid, one registered model each.
AP_MASSES = (0.1, 0.3, 0.6, 1.0, 2.0, 3.0)

#: (hbar c)^2 in fb GeV^2 (CODATA; 1 fm^2 = 1e13 fb).
_GEV2_TO_FB = (
    physical_constants["reduced Planck constant times c in MeV fm"][0] * 1e-3
) ** 2 * 1e13

#: alpha_s for the u, d, s continuum of R (about 1.5 GeV).
_ALPHA_S = 0.3
#: e+e- branching fractions of the omega and phi (PDG 2024), for their R peaks.
_B_EE = {223: 7.38e-5, 333: 2.979e-4}
#: Fraction of omega / phi decays that are not pi+pi- (3 pi, K Kbar, ...).
_B_OTHER = {223: 0.985, 333: 1.0}


def model_name(ap_mass: float) -> str:
    """Name of the model with a fixed A' mass, e.g. ``dark_higgsstrahlung_ap0p5``."""
    return f"dark_higgsstrahlung_ap{ap_mass:g}".replace(".", "p")


def _width_gev(pdg: int) -> float:
    width = Particle.from_pdgid(pdg).width
    return float(width or 0.0) / 1000.0


def _lepton_factor(m: float, lepton: int) -> float:
    r = pdg_mass(lepton) ** 2 / (m * m)
    return 0.0 if 4.0 * r >= 1.0 else (1.0 + 2.0 * r) * math.sqrt(1.0 - 4.0 * r)


def _pion_form_factor2(m: float) -> float:
    """|F_pi(s)|^2: rho Breit-Wigner with the p-wave energy-dependent width, F(0) = 1."""
    m_rho, g_rho, m_pi = pdg_mass(113), _width_gev(113), pdg_mass(211)
    s = m * m
    p = math.sqrt(max(s / 4.0 - m_pi * m_pi, 0.0))
    p_rho = math.sqrt(m_rho * m_rho / 4.0 - m_pi * m_pi)
    width = g_rho * (m_rho / m) * (p / p_rho) ** 3
    return m_rho**4 / ((m_rho * m_rho - s) ** 2 + m_rho * m_rho * width * width)


def r_ratio(m: float) -> dict[str, float]:
    """Crude R(m) = sigma(e+e- -> hadrons)/sigma_mumu(massless) split into ``pipi`` and ``other``.

    See :mod:`belleflow.generation.signal_models.dark_higgsstrahlung` for the
    ingredients and their limits.
    """
    m_pi = pdg_mass(211)
    beta2 = max(1.0 - 4.0 * m_pi * m_pi / (m * m), 0.0)
    r_pipi = 0.25 * beta2**1.5 * _pion_form_factor2(m) if beta2 > 0.0 else 0.0
    r_other = 0.0
    s = m * m
    for pdg in (223, 333):
        mv, gv = pdg_mass(pdg), _width_gev(pdg)
        peak = 9.0 * _B_EE[pdg] * _B_OTHER[pdg] / ALPHA**2
        if m > 3.0 * m_pi:
            r_other += peak * mv * mv * gv * gv / ((s - mv * mv) ** 2 + mv * mv * gv * gv)
    ramp = min(max((m - 1.0) / 0.5, 0.0), 1.0)
    r_other += ramp * max(2.0 * (1.0 + _ALPHA_S / math.pi) - r_pipi, 0.0)
    return {"pipi": r_pipi, "other": r_other}


def ap_branching_fractions(m: float) -> dict[str, float]:
    """B(A' -> ee, mumu, pipi, other hadrons) at A' mass ``m`` (GeV).

    Examples:
        >>> b = ap_branching_fractions(0.15)
        >>> round(b["ee"], 3), b["mumu"], b["pipi"]
        (1.0, 0.0, 0.0)
        >>> round(sum(ap_branching_fractions(0.775).values()), 12)
        1.0
    """
    r = r_ratio(m)
    widths = {
        "ee": _lepton_factor(m, 11),
        "mumu": _lepton_factor(m, 13),
        "pipi": r["pipi"],
        "other": r["other"],
    }
    total = sum(widths.values())
    return {mode: w / total for mode, w in widths.items()}


def visible_fraction(m: float) -> float:
    """(B_ee + B_mumu + B_pipi)^3: the fraction of signal events the samples stand for."""
    b = ap_branching_fractions(m)
    return (b["ee"] + b["mumu"] + b["pipi"]) ** 3


def kallen(m_ap: float, m_hp: float, s: float) -> float:
    """lambda(1, m_A'^2/s, m_h'^2/s)."""
    a, b = m_ap * m_ap / s, m_hp * m_hp / s
    return max((1.0 - a - b) ** 2 - 4.0 * a * b, 0.0)


def higgsstrahlung_cross_section_fb(
    ap_mass: float, hp_mass: float, alpha_d_eps2: float = 1.0, roots: float = NOMINAL_ECMS
) -> float:
    """sigma(e+e- -> A' h') in fb for ``alpha_D epsilon^2 = alpha_d_eps2``.

    ``sigma = pi alpha alpha_D eps^2 / (3 s) * sqrt(lambda) (lambda + 12 m_A'^2/s)
    / (1 - m_A'^2/s)^2`` (Batell, Pospelov, Ritz 2009, tree level; check the
    normalisation against the paper before quoting coupling limits).

    Examples:
        >>> round(higgsstrahlung_cross_section_fb(0.5, 2.0, 1e-9), 3)
        0.024
    """
    s = roots * roots
    lam = kallen(ap_mass, hp_mass, s)
    if ap_mass + hp_mass >= roots:
        return 0.0
    r = ap_mass * ap_mass / s
    sigma = (
        math.pi
        * ALPHA
        * alpha_d_eps2
        / (3.0 * s)
        * math.sqrt(lam)
        * (lam + 12.0 * r)
        / (1 - r) ** 2
    )
    return float(sigma * _GEV2_TO_FB)
