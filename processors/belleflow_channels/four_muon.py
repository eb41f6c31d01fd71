"""mu+mu- resonance in e+e- -> mu+mu- mu+mu- (Belle II, PRD 109, 112015 (2024)).

Search for e+e- -> mu+mu- X, X -> mu+mu- (X: the Z' of L_mu - L_tau or the
muonphilic scalar S) as a narrow peak in the mass of every opposite-charge
dimuon combination of fully reconstructed four-muon events
(arXiv:2403.02841, 178 fb^-1, 0.212-9.0 GeV, 90 % CL). Selection, departures
from the paper and measured performance: ``docs/channels/four_muon.md``.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from belleflow import features, kinematics, resources, selection, systematics
from belleflow.cuts import Cuts
from belleflow.limits.model import Resolution, StatModel
from belleflow.processor import Channel
from belleflow.spec import ClassifierStep, EventView, Histogram, Result, resolution_axis
from belleflow.training.trainer import TrainingSpec

__all__ = [
    "CUTS",
    "FEATURES",
    "HIST_RANGE",
    "MASS_RANGE",
    "RESOLUTION",
    "STAT_MODELS",
    "VETOES",
    "channel",
]

#: Search range of the dimuon mass (GeV), as the paper: from 2 m_mu to 9 GeV.
MASS_RANGE = (0.212, 9.0)
#: Dimuon resonances vetoed in every pairing, windows of VETO_SIGMAS resolutions.
#: PDG ids: J/psi(1S), psi(2S), Upsilon(1S) (ids: the name lookup of ``particle`` is slow).
VETOES = (443, 100443, 553)
VETO_SIGMAS = 5.0
#: Dimuon mass resolution sigma(m) (GeV): clipped Gaussian core of the
#: truth-matched pairs on the signal grid, Z' and S averaged (docs table),
#: interpolated linearly. Floor 0.2 MeV: the true core shrinks to ~10 keV at
#: threshold, but finer windows would only multiply the scan points.
RESOLUTION = Resolution(
    table=[
        (0.212, 0.0002), (0.25, 0.0002), (0.3, 0.00036), (0.4, 0.00066), (0.5, 0.00091),
        (0.6, 0.00121), (0.75, 0.0016), (1.0, 0.00224), (1.25, 0.00292), (1.5, 0.00359),
        (2.0, 0.00502), (2.5, 0.0062), (3.0, 0.00783), (3.5, 0.00943), (4.0, 0.01075),
        (5.0, 0.014), (6.0, 0.0177), (7.0, 0.0218), (8.0, 0.0271), (9.0, 0.0315),
    ]
)  # fmt: skip
#: Histogram range: the search range plus room for the Upsilon(1S) veto and
#: the upper tail of a 9 GeV signal.
HIST_RANGE = (0.2, 9.6)
#: Selection choices (paper values where it gives them, see the docs).
CUTS: dict[str, float] = {
    "muon_id": 0.5,  # muonID likelihood ratio of an identified muon
    "min_muons": 3,  # at least three of the four tracks identified
    "electron_id": 0.5,  # no track identified as an electron (our addition)
    "m4_low": 0.5,  # M(4 tracks) > sqrt(s) - 0.5 GeV (ISR, resolution)
    "m4_high": 0.3,  # M(4 tracks) < sqrt(s) + 0.3 GeV
    "photon_threshold": 0.1,  # CM energy of a photon counted in the extra energy
    "extra_energy": 0.4,  # extra CM photon energy below this (GeV)
}
#: Classifier inputs, per dimuon candidate (all in the CM frame; :func:`select`).
FEATURES = ("cos_helicity", "p_cand_high", "p_cand_low", "p_recoil_high", "p_recoil_low",
            "cos_theta_cand", "cos_nearest_recoil", "cos_recoil_pair", "pt_four")  # fmt: skip


def preselect(ev: EventView, cuts: Cuts) -> None:
    """Four good tracks, no net charge, three identified muons, no electron."""
    good = selection.good_tracks(ev.Track)
    cuts.require("four_tracks", ak.num(good) == 4)
    cuts.require("zero_charge", selection.net_charge(good) == 0)
    muons = selection.identified(good, "muonID", CUTS["muon_id"])
    cuts.require("three_muons", selection.count(muons) >= CUTS["min_muons"])
    # e+e- -> e+e-mu+mu- (51000 x the four-muon cross section) with one
    # electron taken for a muon: the other electron is identified.
    electrons = selection.identified(good, "electronID", CUTS["electron_id"])
    cuts.require("no_electron", selection.count(electrons) == 0)


def select(ev: EventView, cuts: Cuts) -> Result:
    """Full four-muon reconstruction, no extra energy; every pairing is a candidate."""
    good = selection.good_tracks(ev.Track)
    beam, her = ev.cm_frame
    ecms = kinematics.invariant_mass(beam)
    m4 = selection.sum_p4(selection.with_hypothesis(good, 13)).mass
    cuts.require("four_track_mass", (m4 > ecms - CUTS["m4_low"]) & (m4 < ecms + CUTS["m4_high"]))
    e_extra = selection.extra_energy(
        ev.Photon, threshold=CUTS["photon_threshold"], beam=beam, her_direction=her
    )
    cuts.require("no_extra_energy", e_extra < CUTS["extra_energy"])
    at = cuts.event
    legs = good[at][ak.argsort(good[at].charge, axis=1, ascending=False)]  # p0, p1, n0, n1
    mu = features.in_cm(features.as_numpy(legs, 4), beam[at], her, mass=kinematics.mass("mu-"))
    # The candidate pair and the recoiling pair of each of the four pairings.
    mu_p, mu_n, rec_p, rec_n = features.four_track_pairs(mu)
    cand, recoil = mu_p + mu_n, rec_p + rec_n
    m_mumu = features.jagged(cand.mass)
    in_range = selection.in_window(m_mumu, *HIST_RANGE)
    vetoed = selection.resonance_veto(m_mumu, VETOES, resolution=RESOLUTION, n_sigma=VETO_SIGMAS)
    cuts.keep(in_range & vetoed, at=at)
    columns = {
        # Helicity angle: the mu+ in the candidate rest frame to the candidate flight.
        "cos_helicity": abs(features.cos_helicity(mu_p, cand)),
        "p_cand_high": np.maximum(mu_p.p, mu_n.p),
        "p_cand_low": np.minimum(mu_p.p, mu_n.p),
        "p_recoil_high": np.maximum(rec_p.p, rec_n.p),
        "p_recoil_low": np.minimum(rec_p.p, rec_n.p),
        "cos_theta_cand": abs(cand.costheta),
        # Z' and S are radiated off a muon line: the emitter is near the candidate.
        "cos_nearest_recoil": np.maximum(
            features.cos_opening(rec_p, cand), features.cos_opening(rec_n, cand)
        ),
        "cos_recoil_pair": features.cos_opening(recoil, cand),
        "pt_four": features.per_candidate((mu[:, 0] + mu[:, 1] + mu[:, 2] + mu[:, 3]).pt, cand.px),
    }
    muons = selection.identified(legs, "muonID", CUTS["muon_id"])
    return Result(
        events={"legs": legs, "muons": muons},
        candidates={"m_mumu": m_mumu, **columns},
        at=at,
    )


def _truth(result: Result) -> Any:
    """Per candidate: both legs come from the generated dark boson."""
    legs = result.events["legs"]
    dark = ak.fill_none(legs.mc.parent.PDG >= 9000000, False)
    pairs = selection.opposite_charge_pairs(ak.with_field(legs, dark, "dark"))
    return pairs.positive.dark & pairs.negative.dark


def _stat_model(signal_model: str) -> StatModel:
    windows = selection.resonance_windows(VETOES, resolution=RESOLUTION, n_sigma=VETO_SIGMAS)
    return StatModel(
        channel="four_muon",
        observable="m_mumu",
        mass_range=MASS_RANGE,
        vetoed=list(windows.values()),
        scan_step=1.0,
        resolution=RESOLUTION,
        signal_model=signal_model,
        window=2.0,
        units="sigma_B_fb",
        cl=0.9,
        lumi_uncertainty=0.01,
    )


#: One statistical model per signal model (the paper limits both).
STAT_MODELS = {m: _stat_model(m) for m in ("zprime_lmu_ltau", "muonphilic_scalar")}

channel = Channel(
    name="four_muon",
    description="mu+mu- resonance in e+e- -> mu+mu-mu+mu- (Belle II PRD 109, 112015)",
    skim="lowmult",
    experiments=("Belle II",),
    preselect=preselect,
    select=select,
    classifier=ClassifierStep(
        model=resources.model_path("four_muon", 1),
        features=FEATURES,
        # The Z' and S grids of the catalogue at a subset of masses, the main
        # backgrounds of the skim.
        training=TrainingSpec(
            version=1,
            signal_masses=(0.212, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0),
            backgrounds=("mumumumu", "eemumu", "mumutautau", "tautau", "mumu"),
            signal_events=1500,
            background_events=40000,
            signal_efficiency=0.8,
        ),
        truth=_truth,
        mass="m_mumu",
        # The paper's candidate cut: mass range, vetoes and classifier together.
        step="candidate",
    ),
    histograms=(
        Histogram(
            "m_mumu",
            (resolution_axis("m_mumu", RESOLUTION, *HIST_RANGE, label=r"$m(\mu^+\mu^-)$ [GeV]"),),
        ),
    ),
    systematics=(
        systematics.pid("legs", identified="muons"),
        systematics.tracking(4),
        systematics.MOMENTUM_SCALE,
        systematics.PHOTON_ENERGY_SCALE,
    ),
    statistical_model=STAT_MODELS,
)
