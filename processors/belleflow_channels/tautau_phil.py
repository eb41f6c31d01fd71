"""``tautau_phil``: a leptophilic scalar in e+e- -> tau+tau- phi_L, phi_L -> l+l-.

Belle, PRD 109, 032002 (2024), arXiv:2207.07476 (626 fb^-1): four tracks of
zero net charge, an opposite-charge same-flavour lepton pair (e+e- below the
dimuon threshold, mu+mu- above, the e+e- legs possibly displaced) and two
prompt one-prong tau daughters, large missing mass; the observable is
M(l+l-) from 0.04 to 6.5 GeV. The paper's multiclass BDT is replaced by
one classifier trained with ``belleflow train tautau_phil``, applied last
(``docs/channels/tautau_phil.md``).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from belleflow import features, kinematics, resources, selection, systematics
from belleflow.cuts import Cuts
from belleflow.limits.model import CouplingReference, Resolution, StatModel
from belleflow.processor import Channel
from belleflow.spec import ClassifierStep, EventView, Histogram, Result, resolution_axis
from belleflow.theory.leptophilic_scalar import MASS_RANGE, phil_reference_fb
from belleflow.training.trainer import TrainingSpec

__all__ = [
    "CUTS",
    "FEATURES",
    "GRID",
    "LIFETIMES",
    "RESOLUTION",
    "STAT_MODEL",
    "STAT_MODEL_DISPLACED",
    "channel",
    "preselect",
    "select",
]

#: Selection thresholds (GeV, cm, likelihood ratios); see the channel document.
CUTS = {
    "lepton_id": 0.9,  # both legs of the phi_L candidate (electronID or muonID)
    "loose_dr": 20.0,  # lepton legs may come from a displaced phi_L decay
    "loose_dz": 20.0,
    "min_missing_mass": 1.0,  # at least two neutrinos
    "min_conversion_mass": 0.03,  # e+e- below: photon conversions
    "veto_sigma": 3.0,  # J/psi, psi(2S) -> mu+mu- windows in resolution units
}
#: M(l+l-) range selected and histogrammed (GeV).
MASS_WINDOW = (0.02, 6.6)

#: M(l+l-) resolution sigma68 measured on the signal grid (GeV, Belle detector model).
RESOLUTION = Resolution(
    table=[
        (0.04, 0.0001),
        (0.1, 0.0002),
        (0.3, 0.0004),
        (1.0, 0.0024),
        (3.0, 0.0079),
        (6.5, 0.0183),
    ]
)

#: Signal grid, as in ``datasets/belleflow.yaml``: prompt points, and the
#: displaced low-mass points with their c tau grid (cm).
GRID = (0.04, 0.06, 0.08, 0.1, 0.15, 0.21, 0.22, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0,
        5.0, 6.0, 6.5)  # fmt: skip
LIFETIMES = (0.0, 1.0, 2.5, 5.0)


def preselect(ev: EventView, cuts: Cuts) -> None:
    """Exactly four loose tracks (the phi_L legs may be displaced), zero net charge."""
    loose = _loose(ev.Track)
    cuts.require("four_tracks", ak.num(loose) == 4)
    cuts.require("zero_charge", selection.net_charge(loose) == 0)


def _loose(tracks: Any) -> Any:
    return selection.good_tracks(tracks, max_dr=CUTS["loose_dr"], max_dz=CUTS["loose_dz"])


def select(ev: EventView, cuts: Cuts) -> Result:
    """Every opposite-charge pair of identified electrons (kept below the dimuon
    threshold) or muons whose other two tracks are prompt is a candidate."""
    loose = _loose(ev.Track)
    prompt = selection.good_track_mask(loose)
    pairs = selection.opposite_charge_pairs(ak.with_field(loose, prompt, "prompt"))
    cut = CUTS["lepton_id"]
    ee = (pairs.positive.electronID > cut) & (pairs.negative.electronID > cut)
    mumu = (pairs.positive.muonID > cut) & (pairs.negative.muonID > cut)
    m_ee = selection.pair_p4(pairs, "e-").mass
    m_mumu = selection.pair_p4(pairs, "mu-").mass
    is_ee = ee & ~mumu & (m_ee < 2.0 * kinematics.mass("mu-"))
    is_mumu = mumu & ~ee
    cuts.require("lepton_pair", is_ee | is_mumu)
    taus = selection.complementary_pairs(pairs)  # the other two tracks: the tau daughters
    cuts.require("prompt_taus", taus.positive.prompt & taus.negative.prompt)
    missing_m2 = kinematics.missing_mass2(selection.sum_p4(loose), ev.beam)
    cuts.require("missing_mass", missing_m2 > CUTS["min_missing_mass"] ** 2)
    cuts.require("conversion_veto", ~is_ee | (m_ee > CUTS["min_conversion_mass"]))
    charmonium = selection.resonance_veto(
        m_mumu, ("J/psi(1S)", "psi(2S)"), resolution=RESOLUTION, n_sigma=CUTS["veto_sigma"]
    )
    cuts.require("charmonium_veto", ~is_mumu | charmonium)
    m_ll = ak.where(is_ee, m_ee, m_mumu)
    low, high = MASS_WINDOW
    cuts.require("mass_range", (m_ll >= low) & (m_ll < high))
    lepton_mass = ak.where(is_ee, kinematics.mass("e-"), kinematics.mass("mu-"))
    columns = _features(pairs, taus, loose, lepton_mass, missing_m2, *ev.cm_frame)
    legs = selection.pair_legs(pairs)
    return Result(candidates={"m_ll": m_ll, "legs": legs, "pairs": pairs, **columns})


#: Classifier inputs per candidate. Neither the dilepton mass (it would sculpt
#: the background) nor the legs' impact parameters (the training signal is
#: prompt; the displaced points must not be rejected for being displaced).
FEATURES = ("missing_mass", "missing_cos_theta_cm", "visible_energy_cm", "pair_p_cm",
            "pair_cos_opening", "rest_mass", "rest_p_cm", "min_tau_angle", "min_lepton_p",
            "event_pt")  # fmt: skip


def _features(
    pairs: Any, taus: Any, loose: Any, lepton_mass: Any, missing_m2: Any, beam: Any, her: Any
) -> dict[str, Any]:
    """The classifier inputs of each lepton pair of four tracks (two of each charge)."""
    lep_p = kinematics.with_mass(pairs.positive, lepton_mass)
    lep_n = kinematics.with_mass(pairs.negative, lepton_mass)
    pair = lep_p + lep_n
    total = selection.sum_p4(loose)
    rest = total - (pairs.positive + pairs.negative)  # the tau side, pion hypothesis
    missing = kinematics.missing_p4(total, beam)
    columns = {
        "missing_mass": np.sqrt(np.maximum(missing_m2, 0.0)),
        "missing_cos_theta_cm": kinematics.cos_theta_cm(missing, beam, her),
        "visible_energy_cm": kinematics.to_cm(total, beam, her).E,
        "pair_p_cm": kinematics.to_cm(pair, beam, her).p,
        "pair_cos_opening": features.cos_opening(lep_p, lep_n),
        "rest_mass": rest.mass,
        "rest_p_cm": kinematics.to_cm(rest, beam, her).p,
        # phi_L is radiated off a tau: the angle to the nearer tau daughter.
        "min_tau_angle": np.minimum(
            features.opening_angle(pair, taus.positive), features.opening_angle(pair, taus.negative)
        ),
        "min_lepton_p": np.minimum(pairs.positive.p, pairs.negative.p),
        "event_pt": total.pt,
    }
    return {name: features.per_candidate(value, pair.px) for name, value in columns.items()}


def _truth(result: Result) -> Any:
    """Both legs are daughters of the phi_L (MC truth)."""
    pairs = result.candidates["pairs"]
    phi = 9000004  # DARK_PDG["phi_L"]
    return (ak.fill_none(pairs.positive.mc.parent.PDG, 0) == phi) & (
        ak.fill_none(pairs.negative.mc.parent.PDG, 0) == phi
    )


def _stat_model(mass_range: tuple[float, float], ctaus: list[float]) -> StatModel:
    return StatModel(
        channel="tautau_phil",
        observable="m_ll",
        mass_range=mass_range,
        vetoed=list(
            selection.resonance_windows(
                ("J/psi(1S)", "psi(2S)"), resolution=RESOLUTION, n_sigma=CUTS["veto_sigma"]
            ).values()
        ),
        scan_step=1.0,
        resolution=RESOLUTION,
        signal_model="leptophilic_scalar",
        ctau_values=ctaus,
        window=2.0,
        units="coupling:xi",
        cl=0.90,
        coupling=CouplingReference(
            coupling=1.0,
            power=2.0,
            masses=list(GRID),
            reference=[phil_reference_fb(m) for m in GRID],
        ),
    )


#: The statistical model: sigma x B (fb), 90 % CL, converted to xi; prompt
#: phi_L over the whole range.
STAT_MODEL = _stat_model(MASS_RANGE, [0.0])
#: The displaced low-mass points (m <= 0.1 GeV, c tau grid of the catalogue).
STAT_MODEL_DISPLACED = _stat_model((MASS_RANGE[0], 0.1), list(LIFETIMES[1:]))

channel = Channel(
    name="tautau_phil",
    description="leptophilic scalar in e+e- -> tau+tau- phi_L, phi_L -> l+l- (Belle, arXiv:2207.07476)",
    skim="lowmult",
    experiments=("Belle",),
    preselect=preselect,
    select=select,
    classifier=ClassifierStep(
        model=resources.model_path("tautau_phil", 1),
        features=FEATURES,
        # The prompt grid points.
        training=TrainingSpec(
            version=1,
            signal_masses=(0.04, 0.1, 0.15, 0.3, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.5),
            backgrounds=(
                "tautau",
                "eetautau",
                "mumutautau",
                "eemumu",
                "eeee",
                "mumu",
                "uubar",
                "ccbar",
                "ggHadronic",
            ),
            signal_events=2000,
            background_events=60000,
            signal_efficiency=0.8,
        ),
        truth=_truth,
        mass="m_ll",
    ),
    histograms=(
        Histogram(
            "m_ll",
            (resolution_axis("m_ll", RESOLUTION, *MASS_WINDOW, label=r"$M(\ell^+\ell^-)$ [GeV]"),),
        ),
    ),
    systematics=(systematics.pid("legs"), systematics.tracking(4), systematics.MOMENTUM_SCALE),
    statistical_model={"prompt": STAT_MODEL, "displaced": STAT_MODEL_DISPLACED},
)
