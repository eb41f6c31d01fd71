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

from belleflow.generation.signals import (
    DARK_PDG,
    SignalModel,
    boson_off_muon_line,
    register_signal,
)
from belleflow.theory.mumu_tautau import (
    MASS_RANGE,
    scalar_reference_fb,
    scalar_tautau_fraction,
    zprime_reference_fb,
    zprime_tautau_fraction,
)

__all__ = [
    "MASS_RANGE",
    "SCALAR_MUMU_TAUTAU",
    "ZPRIME_MUMU_TAUTAU",
    "scalar_reference_fb",
    "scalar_tautau_fraction",
    "zprime_reference_fb",
    "zprime_tautau_fraction",
]

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
