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

from belleflow import resources, selection, systematics
from belleflow.cuts import Cuts
from belleflow.kinematics import to_cm
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
#: Classifier inputs, per dimuon candidate (all in the CM frame).
FEATURES = (
    "cos_helicity",
    "p_cand_high",
    "p_cand_low",
    "p_recoil_high",
    "p_recoil_low",
    "cos_theta_cand",
    "cos_nearest_recoil",
    "cos_recoil_pair",
    "pt_four",
)
#: Pairings of the 2 positive (p) and 2 negative (n) muons: candidate legs, recoil legs
#: (the order of :func:`belleflow.selection.opposite_charge_pairs`).
_PAIRINGS = ((0, 0, 1, 1), (0, 1, 1, 0), (1, 0, 0, 1), (1, 1, 0, 0))


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
    ecms = np.sqrt(beam.E**2 - beam.px**2 - beam.py**2 - beam.pz**2)
    m4 = selection.sum_p4(selection.with_hypothesis(good, 13)).mass
    cuts.require("four_track_mass", (m4 > ecms - CUTS["m4_low"]) & (m4 < ecms + CUTS["m4_high"]))
    e_extra = selection.extra_energy(
        ev.Photon, threshold=CUTS["photon_threshold"], beam=beam, her_direction=her
    )
    cuts.require("no_extra_energy", e_extra < CUTS["extra_energy"])
    at = cuts.event
    legs = good[at][ak.argsort(good[at].charge, axis=1, ascending=False)]  # p0, p1, n0, n1
    m_mumu, features = _candidate_columns(to_cm(selection.with_hypothesis(legs, 13), beam[at], her))
    in_range = selection.in_window(m_mumu, *HIST_RANGE)
    vetoed = selection.resonance_veto(m_mumu, VETOES, resolution=RESOLUTION, n_sigma=VETO_SIGMAS)
    cuts.keep(in_range & vetoed, at=at)
    muons = selection.identified(legs, "muonID", CUTS["muon_id"])
    return Result(
        events={"legs": legs, "muons": muons},
        candidates={"m_mumu": m_mumu, **features},
        at=at,
    )


def _unit(x: Any, y: Any, z: Any) -> tuple[Any, Any, Any]:
    norm = np.sqrt(x * x + y * y + z * z)
    return x / norm, y / norm, z / norm


def _candidate_columns(p4: Any) -> tuple[Any, dict[str, Any]]:
    """Candidate masses and features from CM muon four-vectors (events x 4, p0 p1 n0 n1)."""
    comp = {k: ak.to_numpy(p4[k]).reshape(-1, 4) for k in ("px", "py", "pz", "E")}
    n_ev = comp["E"].shape[0]
    cols: dict[str, list[Any]] = {name: [] for name in FEATURES}
    masses = []
    pt4 = np.hypot(comp["px"].sum(axis=1), comp["py"].sum(axis=1))
    for pa, na, pb, nb in _PAIRINGS:
        a, b, c, d = pa, 2 + na, pb, 2 + nb  # candidate legs a, b; recoil legs c, d
        cand = {k: comp[k][:, a] + comp[k][:, b] for k in comp}
        m2 = cand["E"] ** 2 - cand["px"] ** 2 - cand["py"] ** 2 - cand["pz"] ** 2
        masses.append(np.sqrt(np.maximum(m2, 0.0)))
        mom = {
            i: np.sqrt(comp["px"][:, i] ** 2 + comp["py"][:, i] ** 2 + comp["pz"][:, i] ** 2)
            for i in (a, b, c, d)
        }
        pc = np.sqrt(cand["px"] ** 2 + cand["py"] ** 2 + cand["pz"] ** 2)
        ux, uy, uz = _unit(cand["px"], cand["py"], cand["pz"])
        # Helicity angle: mu+ direction in the candidate rest frame to the candidate flight.
        beta = pc / cand["E"]
        gamma = 1.0 / np.sqrt(np.maximum(1.0 - beta**2, 1e-12))
        p_par = comp["px"][:, a] * ux + comp["py"][:, a] * uy + comp["pz"][:, a] * uz
        p_par_rest = gamma * (p_par - beta * comp["E"][:, a])
        p_perp2 = np.maximum(mom[a] ** 2 - p_par**2, 0.0)
        cols["cos_helicity"].append(np.abs(p_par_rest / np.sqrt(p_par_rest**2 + p_perp2)))
        cols["p_cand_high"].append(np.maximum(mom[a], mom[b]))
        cols["p_cand_low"].append(np.minimum(mom[a], mom[b]))
        cols["p_recoil_high"].append(np.maximum(mom[c], mom[d]))
        cols["p_recoil_low"].append(np.minimum(mom[c], mom[d]))
        cols["cos_theta_cand"].append(np.abs(uz))
        # Z' and S are radiated off a muon line: the emitter is near the candidate.
        cos_rec = [
            (comp["px"][:, i] * ux + comp["py"][:, i] * uy + comp["pz"][:, i] * uz) / mom[i]
            for i in (c, d)
        ]
        cols["cos_nearest_recoil"].append(np.maximum(*cos_rec))
        rc = {k: comp[k][:, c] + comp[k][:, d] for k in ("px", "py", "pz")}
        rx, ry, rz = _unit(rc["px"], rc["py"], rc["pz"])
        cols["cos_recoil_pair"].append(ux * rx + uy * ry + uz * rz)
        cols["pt_four"].append(pt4)
    shape = (n_ev, 4)

    def jagged(values: list[Any]) -> Any:
        # Variable-length lists so that candidate masks select per event.
        return ak.from_regular(ak.Array(np.stack(values, axis=1).reshape(shape)), axis=1)

    return jagged(masses), {k: jagged(v) for k, v in cols.items()}


def _truth(result: Result) -> Any:
    """Per candidate: both legs come from the generated dark boson."""
    parent = result.events["legs"].mc.parent.PDG
    dark = ak.to_numpy(ak.fill_none(parent >= 9000000, False)).reshape(-1, 4)
    return np.stack([dark[:, pa] & dark[:, 2 + na] for pa, na, _, _ in _PAIRINGS], axis=1)


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
