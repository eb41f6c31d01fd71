"""Signal of the ``tautau_phil`` channel: e+e- -> tau+tau- phi_L, phi_L -> l+l-.

Belle, PRD 109, 032002 (2024), arXiv:2207.07476: a dark leptophilic scalar
phi_L with Yukawa couplings ``xi m_l / v`` is radiated off the tau line of
e+e- -> tau+tau- and decays to e+e- below the dimuon threshold and to
mu+mu- above (0.04 <= m <= 6.5 GeV). Model ``leptophilic_scalar``:

* kinematics: :func:`belleflow.generation.signals.radiated_boson` with the
  tau as radiator and spin 0 (Yukawa emission);
* decay: ``phi_L -> e+e-`` for ``m < 2 m_mu``, else ``phi_L -> mu+mu-``
  (``phi_L -> tau+tau-`` above 2 m_tau is not generated: the channel only
  sees the dilepton modes; :func:`dilepton_fraction` gives their share);
  isotropic (spin 0);
* lifetime: ``c tau`` from the grid point (catalogue ``lifetimes``);
  :func:`phil_ctau_cm` gives the physical value for a coupling ``xi``
  (10-50 mm for ``xi ~ 1`` at m = 40-100 MeV, where the decay is displaced).

The taus decay through the tau table of :mod:`belleflow.generation.decays`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from belleflow.generation.decays import EventRecord
from belleflow.generation.generators.common import beam_spot, finish, sqrt_s
from belleflow.generation.signals import DARK_PDG, SignalModel, radiated_boson, register_signal
from belleflow.generation.signals import dark_species as _dark_species
from belleflow.generation.truth import GeneratorContext, TruthEvents
from belleflow.kinematics import mass as pdg_mass
from belleflow.theory.leptophilic_scalar import (
    HBAR_C_GEV_CM,
    HIGGS_VEV,
    MASS_RANGE,
    decay_lepton,
    dilepton_fraction,
    lepton_pair_width_factor,
    phil_ctau_cm,
    phil_reference_fb,
    phil_width,
)

__all__ = [
    "HBAR_C_GEV_CM",
    "HIGGS_VEV",
    "LEPTOPHILIC_SCALAR",
    "MASS_RANGE",
    "decay_lepton",
    "dilepton_fraction",
    "lepton_pair_width_factor",
    "phil_ctau_cm",
    "phil_reference_fb",
    "phil_width",
]


def _generate(
    n: int, context: GeneratorContext, m: float, ctau: float, params: Mapping[str, Any]
) -> TruthEvents:
    del params  # xi sets the rate (and, through the grid's c tau, the lifetime)
    rng = context.rng
    m_tau = pdg_mass(15)
    lepton = decay_lepton(m)
    if m <= 2.0 * pdg_mass(lepton):
        msg = f"phi_L -> l+l- needs a mass above 2 m_e, got {m} GeV"
        raise ValueError(msg)
    roots = sqrt_s(n, context)
    if m >= float(np.min(roots)) - 2.0 * m_tau:
        msg = f"phi_L mass {m} GeV is above the e+e- -> tau+tau- phi_L end point"
        raise ValueError(msg)
    pdg = DARK_PDG["phi_L"]
    tm, tp, phi, w = radiated_boson(rng, roots, m_tau, np.full(n, m), 0)
    events = np.arange(n)
    vertex = beam_spot(n, context)
    record = EventRecord(n)
    record.add(events, 15, tm, vertex=vertex)
    record.add(events, -15, tp, vertex=vertex)
    record.add(events, pdg, phi, vertex=vertex)
    species = _dark_species(pdg, m, ctau, (lepton, -lepton), 0)
    return finish(record, context, w, {pdg: species})


LEPTOPHILIC_SCALAR = register_signal(
    SignalModel(
        name="leptophilic_scalar",
        description="Leptophilic scalar phi_L radiated off a tau, phi_L -> e+e- or mu+mu-",
        production="e+e- -> tau+tau- phi_L (phi_L off the tau line)",
        decay="phi_L -> e+e- (m < 2 m_mu) or mu+mu- (m > 2 m_mu), displaced by c tau",
        generate=_generate,
        parameters={"xi": 1.0},
        limit_units="fb (sigma x B); xi",
        mass_range=MASS_RANGE,
    )
)
