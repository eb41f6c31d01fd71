"""Signals of the ``dark_higgsstrahlung`` channel: e+e- -> A' h', h' -> A' A'.

Belle, PRL 114, 211801 (2015), arXiv:1502.00084: dark Higgsstrahlung with
three prompt dark photons, each A' -> e+e-, mu+mu- or pi+pi-, for
0.1 < m_A' < 3.5 GeV and 0.2 < m_h' < 10.5 GeV with m_h' > 2 m_A' (h' ->
A'A' open, h' prompt), 977 fb^-1.

The grid is two-dimensional while a catalogue signal entry has one mass
axis. The least invasive mapping: the grid ``mass`` is m_h' and m_A' is a
model parameter (``ap_mass``). Because the engine labels a signal point
``signal_label(model, mass, ctau)``, entries that shared one model name at
different A' masses would collide; so besides the generic model
``dark_higgsstrahlung`` (``ap_mass`` free) one model per catalogue A' mass is
registered, ``dark_higgsstrahlung_ap{m_A'}`` (:func:`model_name`, e.g.
``dark_higgsstrahlung_ap0p5``), whose label carries both masses
(``dark_higgsstrahlung_ap0p5_m2_ctau0``: A' 0.5 GeV, h' 2 GeV).

Kinematics (CM frame): ``dsigma/dcos ~ lambda sin^2 theta + 8 m_A'^2 / s``
(Higgsstrahlung of a massive vector, as e+e- -> Z h), h' -> A'A'
isotropically (scalar), A' -> l+l- with the ``1 + a cos^2`` law of a
transverse vector about its helicity axis (the A' from h' decay is partly
longitudinal: an approximation), A' -> pi+pi- isotropic (approximation).

Branching fractions of the A' (:func:`ap_branching_fractions`): lepton pairs
``(1 + 2r) sqrt(1 - 4r)`` and hadrons ``R(m)`` times the massless muon-pair
width, with R from the pion form factor (rho, energy-dependent width) for
pi+pi-, narrow omega and phi Breit-Wigners and a u, d, s continuum
``2 (1 + alpha_s/pi)`` switched on linearly between 1.0 and 1.5 GeV for the
other hadrons. J/psi (narrow) and charm are ignored: a crude R ratio, good
to tens of per cent away from resonances. The generator decays the A' only
to e+e-, mu+mu- and pi+pi- (the three channel modes, renormalised); the
signal samples therefore stand for sigma x B with ``B = B(h' -> A'A') x
(B_ee + B_mumu + B_pipi)^3`` (:func:`visible_fraction`), B(h' -> A'A') = 1.

The rate for the alpha_D epsilon^2 limits, :func:`higgsstrahlung_cross_section_fb`,
is the tree-level cross section of Batell, Pospelov and Ritz, PRD 79,
115008 (2009), arXiv:0903.0363.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from belleflow.generation.decays import Channel, EventRecord, Species
from belleflow.generation.generators.common import at_rest, beam_spot, finish, sqrt_s
from belleflow.generation.phasespace import one_plus_a_cos2, two_body
from belleflow.generation.signals import DARK_PDG, SignalModel, register_signal
from belleflow.generation.truth import GeneratorContext, TruthEvents
from belleflow.theory.dark_higgsstrahlung import (
    AP_MASS_RANGE,
    AP_MASSES,
    HP_MASS_RANGE,
    ap_branching_fractions,
    higgsstrahlung_cross_section_fb,
    kallen,
    model_name,
    r_ratio,
    visible_fraction,
)

__all__ = [
    "AP_MASSES",
    "AP_MASS_RANGE",
    "AP_PDG",
    "DARK_HIGGSSTRAHLUNG",
    "FIXED_AP_MODELS",
    "HP_MASS_RANGE",
    "HP_PDG",
    "ap_branching_fractions",
    "generate_dark_higgsstrahlung",
    "higgsstrahlung_cross_section_fb",
    "model_name",
    "r_ratio",
    "visible_fraction",
]

#: PDG code of the dark photon: signals.DARK_PDG has no A' entry yet, so a
#: free code of the 9000001+ block is taken unless one is added there.
AP_PDG = DARK_PDG.get("A'", 9000020)
HP_PDG = DARK_PDG["h'"]


def _ap_species(m: float) -> Species:
    b = ap_branching_fractions(m)
    channels = []
    for mode, daughters, law in (
        ("ee", (11, -11), "vector_ll"),
        ("mumu", (13, -13), "vector_ll"),
        ("pipi", (211, -211), "phsp"),
    ):
        if b[mode] > 0.0:
            channels.append(Channel(b[mode], daughters, law))
    norm = sum(c.br for c in channels)
    return Species(
        AP_PDG, m, 0.0, 0.0, tuple(Channel(c.br / norm, c.daughters, c.model) for c in channels)
    )


def generate_dark_higgsstrahlung(
    n: int, context: GeneratorContext, m: float, ctau: float, params: Mapping[str, Any]
) -> TruthEvents:
    """e+e- -> A' h' (mass ``m`` = m_h'), h' -> A'A', A' -> ee/mumu/pipi, all prompt.

    Raises:
        ValueError: Without ``ap_mass``, with m_h' <= 2 m_A' (h' -> A'A'
            closed), above the kinematic limit, or with ``ctau`` > 0.
    """
    if "ap_mass" not in params:
        msg = "dark_higgsstrahlung needs the A' mass parameter 'ap_mass' (GeV)"
        raise ValueError(msg)
    m_ap = float(params["ap_mass"])
    if not AP_MASS_RANGE[0] <= m_ap <= AP_MASS_RANGE[1]:
        msg = f"dark_higgsstrahlung: m_A' = {m_ap} GeV outside {AP_MASS_RANGE}"
        raise ValueError(msg)
    if m <= 2.0 * m_ap:
        msg = f"dark_higgsstrahlung: m_h' = {m} GeV must exceed 2 m_A' = {2 * m_ap} GeV"
        raise ValueError(msg)
    if ctau > 0.0:
        msg = "dark_higgsstrahlung: the h' and A' are prompt here (ctau must be 0)"
        raise ValueError(msg)
    rng = context.rng
    roots = sqrt_s(n, context)
    if m + m_ap >= float(np.min(roots)):
        msg = f"dark_higgsstrahlung: m_A' + m_h' = {m + m_ap} GeV is above sqrt(s)"
        raise ValueError(msg)
    s = float(np.mean(roots)) ** 2
    lam = kallen(m_ap, m, s)
    # lambda sin^2 + 8 r = (lambda + 8 r)(1 + a cos^2) with a = -lambda / (lambda + 8 r).
    a = -lam / (lam + 8.0 * m_ap * m_ap / s)
    z_axis = np.tile([0.0, 0.0, 1.0], (n, 1))
    ap, hp = two_body(rng, at_rest(roots), m_ap, m, one_plus_a_cos2(a), z_axis)
    events = np.arange(n)
    vertex = beam_spot(n, context)
    record = EventRecord(n)
    record.add(events, AP_PDG, ap, vertex=vertex)
    record.add(events, HP_PDG, hp, vertex=vertex)
    overrides = {
        AP_PDG: _ap_species(m_ap),
        HP_PDG: Species(HP_PDG, m, 0.0, 0.0, (Channel(1.0, (AP_PDG, AP_PDG), "phsp"),)),
    }
    return finish(record, context, None, overrides)


DARK_HIGGSSTRAHLUNG = register_signal(
    SignalModel(
        name="dark_higgsstrahlung",
        description="Dark Higgsstrahlung e+e- -> A' h', h' -> A'A', A' -> ee/mumu/pipi (m_A' free)",
        production="e+e- -> A' h' (Higgsstrahlung off the kinetically mixed A')",
        decay="h' -> A'A', A' -> e+e-, mu+mu-, pi+pi-",
        generate=generate_dark_higgsstrahlung,
        parameters={"alpha_d_eps2": 1e-9},
        limit_units="fb (sigma x B); alpha_D epsilon^2",
        mass_range=HP_MASS_RANGE,
    )
)


def _fixed(ap_mass: float) -> SignalModel:
    def generate(
        n: int, context: GeneratorContext, m: float, ctau: float, params: Mapping[str, Any]
    ) -> TruthEvents:
        if not math.isclose(float(params.get("ap_mass", ap_mass)), ap_mass):
            msg = f"{model_name(ap_mass)}: ap_mass is fixed to {ap_mass} GeV"
            raise ValueError(msg)
        return generate_dark_higgsstrahlung(n, context, m, ctau, {**params, "ap_mass": ap_mass})

    return register_signal(
        SignalModel(
            name=model_name(ap_mass),
            description=f"Dark Higgsstrahlung at m_A' = {ap_mass:g} GeV (grid mass: m_h')",
            production="e+e- -> A' h'",
            decay="h' -> A'A', A' -> e+e-, mu+mu-, pi+pi-",
            generate=generate,
            parameters={"ap_mass": ap_mass, "alpha_d_eps2": 1e-9},
            limit_units="fb (sigma x B); alpha_D epsilon^2",
            mass_range=(2.0 * ap_mass, HP_MASS_RANGE[1]),
        )
    )


#: The fixed-A'-mass models of the catalogue grid, by A' mass.
FIXED_AP_MODELS: dict[float, SignalModel] = {m: _fixed(m) for m in AP_MASSES}
