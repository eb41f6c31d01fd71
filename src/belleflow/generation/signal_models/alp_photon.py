"""Signal of the ``gamma_alp`` channel: an axion-like particle in e+e- -> gamma a, a -> gamma gamma.

Belle II, PRL 125, 161806 (2020), arXiv:2007.13071: ALP-strahlung through the
a-gamma-gamma coupling ``g_agg`` (s-channel photon, e+e- -> gamma* -> gamma a),
0.2 < m_a < 9.7 GeV, 445 pb^-1 of 2018 data.

Kinematics (CM frame): the recoil photon has the fixed energy
``E* = (s - m_a^2) / (2 sqrt(s))`` and the polar-angle law of a transverse
photon off a vector current, ``1 + cos^2 theta*`` about the e- beam; the ALP
(spin 0) decays isotropically to two photons. It is prompt for the couplings
the search reaches (``c tau ~ 5 um`` at ``m_a = 0.2 GeV``, ``g = 1e-3
GeV^-1``); a ``ctau`` grid is accepted all the same. No ISR is generated for
the signal (the paper's signal model has none either as far as we know: the
~1 % radiative loss of the full-energy peak is part of the efficiency
systematic in the documentation).

The rate for the coupling limits, :func:`alp_cross_section_fb`, is the
tree-level ``sigma = alpha g^2 / 24 (1 - m_a^2/s)^3`` with ``B(a -> gamma
gamma) = 1`` (no other coupling).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.constants import physical_constants  # type: ignore[import-untyped]

from belleflow.generation.decays import EventRecord
from belleflow.generation.generators.common import at_rest, beam_spot, finish, sqrt_s
from belleflow.generation.phasespace import one_plus_a_cos2, two_body
from belleflow.generation.signals import DARK_PDG, SignalModel, dark_species, register_signal
from belleflow.generation.truth import GeneratorContext, TruthEvents
from belleflow.theory.alp_photon import GEV2_TO_FB, MASS_RANGE, alp_cross_section_fb

__all__ = [
    "ALP_PHOTON",
    "GEV2_TO_FB",
    "MASS_RANGE",
    "alp_cross_section_fb",
    "alp_ctau_cm",
    "generate_alp_photon",
]

#: hbar c in GeV cm (for the ALP decay length).
_HBARC_GEV_CM = physical_constants["reduced Planck constant times c in MeV fm"][0] * 1e-3 * 1e-13


def alp_ctau_cm(mass: float, coupling: float = 1e-3) -> float:
    """c tau of the ALP (cm) from ``Gamma(a -> gamma gamma) = g^2 m^3 / (64 pi)``."""
    width = coupling * coupling * mass**3 / (64.0 * math.pi)
    return float(_HBARC_GEV_CM / width)


def generate_alp_photon(
    n: int, context: GeneratorContext, m: float, ctau: float, params: Mapping[str, Any]
) -> TruthEvents:
    """e+e- -> gamma a (``1 + cos^2 theta*``), a -> gamma gamma (isotropic), in the CM then lab."""
    del params  # the coupling scales the rate only
    rng = context.rng
    roots = sqrt_s(n, context)
    if m >= float(np.min(roots)):
        msg = f"alp_photon: m_a = {m} GeV is above sqrt(s)"
        raise ValueError(msg)
    z_axis = np.tile([0.0, 0.0, 1.0], (n, 1))
    # +z of the CM frame is the e- direction: the photon angle is measured from it.
    photon, alp = two_body(rng, at_rest(roots), 0.0, m, one_plus_a_cos2(1.0), z_axis)
    pdg = DARK_PDG["a"]
    events = np.arange(n)
    vertex = beam_spot(n, context)
    record = EventRecord(n)
    record.add(events, 22, photon, vertex=vertex)
    record.add(events, pdg, alp, vertex=vertex)
    return finish(record, context, None, {pdg: dark_species(pdg, m, ctau, (22, 22), 0)})


ALP_PHOTON = register_signal(
    SignalModel(
        name="alp_photon",
        description="ALP produced with a photon through g_agg, a -> gamma gamma",
        production="e+e- -> gamma a (s-channel photon, 1 + cos^2 theta*)",
        decay="a -> gamma gamma (isotropic)",
        generate=generate_alp_photon,
        parameters={"coupling": 1e-3},
        limit_units="fb (sigma x B); g_agg in GeV^-1",
        mass_range=MASS_RANGE,
    )
)
