"""``mumu_tautau``: a tau+tau- resonance recoiling against a muon pair.

Belle II, PRL 131, 121802 (2023), arXiv:2306.12294 (62.8 fb^-1): e+e- ->
mu+mu- X, X -> tau+tau-, 3.6-10 GeV. Two identified opposite-charge muons
plus two one-prong tau decays (exactly four tracks, zero net charge) and
missing energy; the observable is the mass recoiling against the muon pair.
The paper's neural networks are replaced by the cuts and one classifier
trained with ``belleflow train mumu_tautau`` on mass-independent candidate
features, applied last (``docs/channels/mumu_tautau.md``).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import hist
import numpy as np

from belleflow import features, kinematics, resources, selection, systematics
from belleflow.cuts import Cuts
from belleflow.limits.model import CouplingReference, Resolution, StatModel
from belleflow.processor import Channel
from belleflow.spec import ClassifierStep, EventView, Histogram, Result, resolution_axis
from belleflow.theory.mumu_tautau import MASS_RANGE, scalar_reference_fb, zprime_reference_fb
from belleflow.training.trainer import TrainingSpec

__all__ = [
    "CUTS",
    "FEATURES",
    "GRID",
    "RECOIL_RANGE",
    "RESOLUTION",
    "STAT_MODELS",
    "channel",
    "preselect",
    "select",
]

#: Selection thresholds (GeV, likelihood ratios); see the channel document.
CUTS = {
    "muon_id": 0.5,  # both muon candidates
    "min_missing_energy_cm": 1.0,  # neutrinos of the two tau decays
    "recoil_gap": 0.05,  # m_recoil - m(other two tracks) > gap: kills 4-lepton final states
    "conversion_mass": 0.1,  # other pair both electrons below this mass: a conversion
    "electron_id": 0.5,
    # Veto of tau -> 3 prongs (e+e- -> tau+tau-, 3-1 topology with two pions
    # taken as muons): three tracks below m_tau; not applied above this recoil
    # mass, where the soft muons and one tau daughter of the signal look alike.
    "three_prong_until": 9.5,
}

#: Recoil-mass range selected and histogrammed (GeV).
RECOIL_RANGE = (3.0, 10.5)
#: Recoil-mass resolution sigma(m) measured on the signal grid (GeV), used for
#: the binning and by the limit backend (see the channel document).
RESOLUTION = Resolution(
    table=[(3.6, 0.033), (5.0, 0.021), (7.0, 0.013), (9.0, 0.0077), (10.0, 0.0066)]
)
#: Signal mass grid (GeV), as in ``datasets/belleflow.yaml``.
GRID = (3.6, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 9.5, 10.0)


def preselect(ev: EventView, cuts: Cuts) -> None:
    """Exactly four good tracks, zero net charge."""
    good = selection.good_tracks(ev.Track)
    cuts.require("four_tracks", ak.num(good) == 4)
    cuts.require("zero_charge", selection.net_charge(good) == 0)


def select(ev: EventView, cuts: Cuts) -> Result:
    """Every opposite-charge pair of identified muons is a candidate; the other two are the taus."""
    good = selection.good_tracks(ev.Track)
    beam = ev.beam
    pairs = selection.opposite_charge_pairs(good)
    muon_id = CUTS["muon_id"]
    cuts.require("mumu_pair", (pairs.positive.muonID > muon_id) & (pairs.negative.muonID > muon_id))
    m_recoil = kinematics.recoil_mass(selection.pair_p4(pairs, 13), beam)
    # The other two tracks (pion hypothesis): all four minus the pair.
    total = selection.sum_p4(good)
    m_rest = (total - selection.pair_p4(pairs)).mass
    other = selection.complementary_pairs(pairs)
    electrons = (other.positive.electronID > CUTS["electron_id"]) & (
        other.negative.electronID > CUTS["electron_id"]
    )
    conversion = electrons & (m_rest < CUTS["conversion_mass"])
    cuts.require("conversion_veto", ~conversion)
    # Per event (the four tracks, pion hypothesis: the muon mass changes it by MeV).
    e_miss = kinematics.missing_energy_cm(total, beam)
    cuts.require("missing_energy", e_miss > CUTS["min_missing_energy_cm"])
    cuts.require("recoil_above_rest", m_recoil - m_rest > CUTS["recoil_gap"])
    cuts.require("three_prong_veto", ~_three_prong(good) | (m_recoil > CUTS["three_prong_until"]))
    low, high = RECOIL_RANGE
    cuts.require("recoil_range", (m_recoil >= low) & (m_recoil < high))
    columns = _features(good, *ev.cm_frame)
    legs = selection.pair_legs(pairs)
    candidates = {"m_recoil": m_recoil, "m_rest": m_rest, "muons": pairs, "legs": legs}
    return Result(candidates={**candidates, **columns})


#: Classifier inputs per candidate (CM frame; :func:`_features`). Not the
#: recoil mass, nor the dimuon momentum or energy (with the dimuon mass they
#: give the recoil mass): the classifier must not sculpt the recoil spectrum.
FEATURES = ("mu_p_ratio_cm", "mu_cos_opening_cm", "pair_cos_theta_cm", "pair_pt_cm", "rest_p_cm",
            "rest_max_p_cm", "rest_cos_opening_cm", "rest_energy_fraction", "cos_pair_rest_cm",
            "min_mu_track_angle_cm", "missing_cos_theta_cm", "missing_pt_cm", "rest_n_muons",
            "rest_n_electrons")  # fmt: skip


def _features(good: Any, beam: Any, her: Any) -> dict[str, Any]:
    """The classifier inputs (events x 4 pairs) of each muon pair of four tracks."""
    tracks = good[ak.argsort(good.charge, axis=1, ascending=False)]  # + + - -
    mu_p, mu_n, ta_p, ta_n = features.four_track_pairs(
        features.in_cm(features.as_numpy(tracks, 4), beam, her)
    )
    pair, rest = mu_p + mu_n, ta_p + ta_n
    m_mu = kinematics.mass("mu-")
    e_pair = kinematics.with_mass(mu_p, m_mu).E + kinematics.with_mass(mu_n, m_mu).E
    sqrt_s = kinematics.invariant_mass(beam)[:, None]
    missing = pair + rest  # minus the missing momentum
    angles = [features.opening_angle(m, t) for m in (mu_p, mu_n) for t in (ta_p, ta_n)]

    def either(pid: str, cut: float) -> Any:
        """1 if one of the other two tracks has ``pid`` above ``cut``."""
        found = features.four_track_pairs(ak.to_numpy(ak.flatten(tracks[pid] > cut)).reshape(-1, 4))
        return (found[2] | found[3]).astype(np.float64)

    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "mu_p_ratio_cm": features.momentum_ratio(mu_p, mu_n),
            "mu_cos_opening_cm": features.cos_opening(mu_p, mu_n),
            "pair_cos_theta_cm": pair.costheta,
            "pair_pt_cm": pair.pt,  # transverse to the beams
            "rest_p_cm": rest.p,  # the tau side: the other two tracks
            "rest_max_p_cm": np.maximum(ta_p.p, ta_n.p),
            "rest_cos_opening_cm": features.cos_opening(ta_p, ta_n),
            # The visible share of the recoil: E*(tau side) / (sqrt(s) - E*(muon pair)).
            "rest_energy_fraction": rest.E / (sqrt_s - e_pair),
            "cos_pair_rest_cm": features.cos_opening(pair, rest),
            "min_mu_track_angle_cm": np.min(angles, axis=0),  # a muon to a tau-side track (rad)
            "missing_cos_theta_cm": -missing.costheta,
            "missing_pt_cm": missing.pt,
            # 1 if a tau-side track has muonID (electronID) > 0.5, else 0: not a
            # count (the shipped model was trained on this; a count needs a retraining).
            "rest_n_muons": either("muonID", CUTS["muon_id"]),
            "rest_n_electrons": either("electronID", CUTS["electron_id"]),
        }


def _truth(result: Result) -> Any:
    """Both legs are generated muons without a parent (not tau daughters)."""
    pairs = result.candidates["muons"]
    primary = [
        (abs(ak.fill_none(leg.mc.PDG, 0)) == 13) & (ak.fill_none(leg.mc.parent.PDG, 0) == 0)
        for leg in (pairs.positive, pairs.negative)
    ]
    return primary[0] & primary[1]


def _three_prong(good: Any) -> Any:
    """Per event: do three of the tracks (pion hypothesis) have a mass below m_tau?"""
    trip = ak.combinations(good, 3, fields=["a", "b", "c"])
    m3 = (trip.a + trip.b + trip.c).mass
    return ak.fill_none(ak.any(m3 < kinematics.mass("tau-"), axis=1), False)


def _stat_model(model: str, units: str, reference: Any) -> StatModel:
    return StatModel(
        channel="mumu_tautau",
        observable="m_recoil",
        mass_range=MASS_RANGE,
        scan_step=1.0,
        resolution=RESOLUTION,
        signal_model=model,
        window=2.0,
        units=units,
        cl=0.90,
        coupling=CouplingReference(
            coupling=1.0, power=2.0, masses=list(GRID), reference=[reference(m) for m in GRID]
        ),
    )


# sigma x B (fb) at 90 % CL, converted to g' (Z') and xi (scalar) with the
# leading-log rate estimates.
STAT_MODELS = {
    "zprime_mumu_tautau": _stat_model(
        "zprime_mumu_tautau", "coupling:g_prime", zprime_reference_fb
    ),
    "scalar_mumu_tautau": _stat_model("scalar_mumu_tautau", "coupling:xi", scalar_reference_fb),
}

channel = Channel(
    name="mumu_tautau",
    description="tau+tau- resonance recoiling against mu+mu- (Belle II, arXiv:2306.12294)",
    skim="lowmult",
    experiments=("Belle II",),
    preselect=preselect,
    select=select,
    classifier=ClassifierStep(
        model=resources.model_path("mumu_tautau", 1),
        features=FEATURES,
        # The whole Z' and S grid and the backgrounds that survive the cuts
        # (docs table; mu+mu- and e+e-mu+mu- leave no candidate after them).
        training=TrainingSpec(
            version=1,
            signal_masses=None,
            backgrounds=("tautau", "mumutautau", "eetautau", "uubar", "ddbar", "ssbar", "ccbar"),
            signal_events=2000,
            background_events=150000,
            signal_efficiency=0.8,
        ),
        truth=_truth,
        mass="m_recoil",
    ),
    histograms=(
        Histogram(
            "m_recoil",
            (
                resolution_axis(
                    "m_recoil", RESOLUTION, *RECOIL_RANGE, label=r"$M_{recoil}(\mu^+\mu^-)$ [GeV]"
                ),
            ),
        ),
        Histogram(
            "m_rest",
            (hist.axis.Regular(100, 0.0, 10.0, name="m_rest", label=r"$M$(other pair) [GeV]"),),
            varied=False,
        ),
    ),
    systematics=(systematics.pid("legs"), systematics.tracking(4), systematics.MOMENTUM_SCALE),
    statistical_model=STAT_MODELS,
)
