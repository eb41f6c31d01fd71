"""ALP in e+e- -> gamma a, a -> gamma gamma: search range and tree-level rate.

Belle II, PRL 125, 161806 (2020), arXiv:2007.13071; the generator is
:mod:`belleflow.generation.signal_models.alp_photon`.
"""

from __future__ import annotations

from scipy.constants import physical_constants  # type: ignore[import-untyped]

from belleflow.processes import NOMINAL_ECMS
from belleflow.theory import ALPHA

__all__ = ["GEV2_TO_FB", "MASS_RANGE", "alp_cross_section_fb"]

#: Published mass range of the search, GeV.
MASS_RANGE = (0.2, 9.7)

#: (hbar c)^2 in fb GeV^2: converts a cross section in GeV^-2 to fb
#: (CODATA hbar c in MeV fm; 1 fm^2 = 1e13 fb).
GEV2_TO_FB = (physical_constants["reduced Planck constant times c in MeV fm"][0] * 1e-3) ** 2 * 1e13


def alp_cross_section_fb(mass: float, coupling: float = 1e-3, roots: float = NOMINAL_ECMS) -> float:
    """Tree-level sigma(e+e- -> gamma a) in fb at ``g_agg = coupling`` (GeV^-1).

    ``sigma = alpha g^2 / 24 (1 - m^2/s)^3`` (e.g. Dolan et al., JHEP 12 (2017)
    094, arXiv:1709.00009); B(a -> gamma gamma) = 1 when ``g_agg`` is the
    only coupling, so this is also sigma x B.

    Examples:
        >>> round(alp_cross_section_fb(0.5, 1e-3), 1)
        117.6
    """
    s = roots * roots
    if mass >= roots:
        return 0.0
    return float(ALPHA * coupling * coupling / 24.0 * (1.0 - mass * mass / s) ** 3 * GEV2_TO_FB)
