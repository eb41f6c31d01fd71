"""ALP in e+e- -> gamma a, a -> gamma gamma: three photons and nothing else.

Belle II, PRL 125, 161806 (2020), arXiv:2007.13071 (445 pb^-1, 2018 data);
run here on all Belle II samples. Selection, departures from the paper and
measured performance: ``docs/channels/gamma_alp.md``.

Every event with exactly three photons forms three ALP candidates (each
photon pair, the third photon being the recoil photon). The search
observable ``m_alp`` is the diphoton mass below :data:`SWITCH_MASS` and the
recoil mass against the third photon above (where it resolves better).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import hist
import numpy as np

from belleflow import kinematics, selection, systematics
from belleflow.cuts import Cuts
from belleflow.limits.model import CouplingReference, Resolution, StatModel
from belleflow.processor import Channel
from belleflow.spec import EventView, Histogram, Result, resolution_axis
from belleflow.theory.alp_photon import MASS_RANGE, alp_cross_section_fb

__all__ = [
    "MAX_MISSING_P_FRACTION",
    "MIN_PHOTON_E_CM",
    "PHOTON_EFFICIENCY",
    "RESOLUTION",
    "STAT_MODEL",
    "SWITCH_MASS",
    "channel",
    "preselect",
    "select",
]

#: Photon candidates: CM energy above this (GeV); beam-background clusters
#: (exponential, 40 MeV slope) pass it with a probability of 0.3 %.
MIN_PHOTON_E_CM = 0.25
#: Photon polar-angle acceptance (lab, degrees): inside the CDC, so that an
#: electron at that angle would have left a track (the track veto sees it).
THETA_ACCEPTANCE_DEG = (17.0, 150.0)
#: Shower-shape cut: single photons peak near 1, merged pi0 and hadronic
#: clusters lower.
MIN_E9E21 = 0.85
#: Energy balance: sum of the three photons' CM energies over sqrt(s).
ENERGY_FRACTION_WINDOW = (0.92, 1.04)
#: Momentum balance: |sum of CM momenta| over sqrt(s).
MAX_MISSING_P_FRACTION = 0.04
#: Below this diphoton mass (GeV) the observable is the diphoton mass, above
#: it the recoil mass: the two resolutions cross near 7 GeV (measured on the
#: signal grid; the paper switches at 6.85 GeV).
SWITCH_MASS = 7.0
#: Relative photon-detection efficiency uncertainty per photon (ESTIMATE:
#: 1 %, Belle II's radiative-muon-pair photon-efficiency measurements).
PHOTON_EFFICIENCY = 0.01
#: Peaking e+e- -> gamma P backgrounds vetoed at candidate level (+- 3 sigma).
PEAKING = ("pi0", "eta", "eta'(958)")

#: Resolution of ``m_alp`` (GeV) measured on the signal grid (Belle II
#: detector model; core width of the peak, see the docs): diphoton mass
#: below :data:`SWITCH_MASS`, recoil mass above.
RESOLUTION = Resolution(
    table=[
        (0.2, 0.0180), (0.3, 0.0201), (0.45, 0.0207), (0.65, 0.0212), (0.8, 0.0244), (1.2, 0.0287),
        (1.5, 0.0321), (2.0, 0.0376), (3.0, 0.0486), (4.0, 0.0645), (5.0, 0.0741), (6.0, 0.0890),
        (6.5, 0.1153), (6.99, 0.1200), (7.01, 0.1000), (7.5, 0.0852), (8.0, 0.0706), (9.0, 0.0365),
        (9.7, 0.0262),
    ]
)  # fmt: skip


def preselect(ev: EventView, cuts: Cuts) -> None:
    """No track at all (photon shifts do not change it)."""
    cuts.require("no_tracks", ak.num(ev.Track) == 0)


def select(ev: EventView, cuts: Cuts) -> Result:
    """Three energetic photons in the acceptance, balanced in energy and momentum."""
    beam, _ = ev.cm_frame
    photons = ev.Photon
    # E* = p.P / sqrt(s): the one CM quantity needed of every photon, without transforming it.
    energetic = photons[selection.cm_energy(photons, beam) > MIN_PHOTON_E_CM]
    cuts.require("three_photons", ak.num(energetic) == 3)
    theta = np.degrees(np.arctan2(np.hypot(energetic.px, energetic.py), energetic.pz))
    low, high = THETA_ACCEPTANCE_DEG
    cuts.require("acceptance", ak.all((theta > low) & (theta < high), axis=-1))
    cuts.require("shower_shape", ak.all(energetic.clusterE9E21 > MIN_E9E21, axis=-1))
    total = selection.sum_p4(energetic)
    roots = kinematics.invariant_mass(beam)
    fraction = selection.cm_energy(total, beam) / roots
    low, high = ENERGY_FRACTION_WINDOW
    cuts.require("energy_balance", (fraction > low) & (fraction < high))
    missing = kinematics.p_cm(total, beam) / roots
    cuts.require("momentum_balance", missing < MAX_MISSING_P_FRACTION)
    return Result(events=_candidates(energetic[cuts.event], beam[cuts.event]), at=cuts.event)


def _candidates(photons: Any, beam: Any) -> dict[str, Any]:
    """Per event (3 photons), the three candidates: diphoton, recoil and search masses."""
    g = [photons[:, i] for i in range(3)]
    pairs = [(g[1] + g[2], g[0]), (g[0] + g[2], g[1]), (g[0] + g[1], g[2])]
    m_gg = ak.from_regular(ak.concatenate([p.mass[:, None] for p, _ in pairs], axis=1))
    m_rec = ak.from_regular(
        ak.concatenate([kinematics.recoil_mass(third, beam)[:, None] for _, third in pairs], axis=1)
    )
    keep = selection.resonance_veto(m_gg, PEAKING, resolution=RESOLUTION)
    m_alp = ak.where(m_gg < SWITCH_MASS, m_gg, m_rec)
    return {"m_gg": m_gg[keep], "m_recoil": m_rec[keep], "m_alp": m_alp[keep]}


def _axis(name: str, label: str) -> hist.axis.Variable:
    # Bins a quarter of the resolution wide.
    return resolution_axis(name, RESOLUTION, 0.1, 10.5, per_sigma=4.0, label=label)


_RESOLUTION_MASSES = [m for m, _ in RESOLUTION.table or ()]

STAT_MODEL = StatModel(
    channel="gamma_alp",
    observable="m_alp",
    mass_range=MASS_RANGE,
    vetoed=list(selection.resonance_windows(PEAKING, resolution=RESOLUTION).values()),
    scan_step=1.0,
    resolution=RESOLUTION,
    signal_model="alp_photon",
    window=2.0,
    # The POI is sigma x B in fb; the backend converts it to g_agg (GeV^-1)
    # with the tree-level cross section at g_agg = 1e-3 GeV^-1.
    units="coupling:g_agg",
    coupling=CouplingReference(
        coupling=1e-3,
        power=2.0,
        masses=_RESOLUTION_MASSES,
        reference=[alp_cross_section_fb(m, 1e-3) for m in _RESOLUTION_MASSES],
    ),
    cl=0.95,
)
#: The three mass estimators: m_alp is m_gg or m_recoil, per candidate.
_AXES = {
    "m_alp": _axis("m_alp", r"$m_{a}$ candidate [GeV]"),
    "m_gg": _axis("m_gg", r"$m_{\gamma\gamma}$ [GeV]"),
    "m_recoil": _axis("m_recoil", r"$m_{\rm recoil}(\gamma)$ [GeV]"),
}

channel = Channel(
    name="gamma_alp",
    description="ALP in e+e- -> gamma a, a -> gamma gamma (Belle II, PRL 125, 161806)",
    skim="photons",
    experiments=("Belle II",),
    preselect=preselect,
    select=select,
    histograms=tuple(Histogram(name, (axis,)) for name, axis in _AXES.items()),
    systematics=(
        systematics.PHOTON_ENERGY_SCALE,
        systematics.efficiency("photon_efficiency", PHOTON_EFFICIENCY, 3),
    ),
    # The scan blinds m_alp, its observable; the other two mass estimators of the
    # same ALP are blinded where its windows would count them.
    blind={"m_gg": STAT_MODEL, "m_recoil": STAT_MODEL},
    statistical_model=STAT_MODEL,
)
