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

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import awkward as ak
import hist
import numpy as np
import vector

from belleflow import kinematics, resources, selection, systematics
from belleflow.generation.signal_models.mumu_tautau import (
    MASS_RANGE,
    scalar_reference_fb,
    zprime_reference_fb,
)
from belleflow.limits.model import CouplingReference, Resolution, StatModel, Systematic
from belleflow.processor import Channel, ChannelProcessor
from belleflow.training.evaluate import Classifier, shipped_classifier
from belleflow.training.trainer import TrainingSpec

__all__ = [
    "CUTS",
    "FEATURES",
    "GRID",
    "MODEL",
    "RESOLUTION",
    "STAT_MODELS",
    "TRAINING",
    "MuMuTauTauProcessor",
    "candidates",
    "channel",
    "classifier",
    "features",
    "preselection",
    "recoil_edges",
    "select",
]

#: Selection thresholds (GeV, likelihood ratios); see the channel document.
CUTS = {
    "muon_id": 0.5,  # both muon candidates
    "min_missing_energy_cm": 1.0,  # neutrinos of the two tau decays
    "recoil_gap": 0.05,  # m_recoil - m(other two tracks) > gap: kills 4-lepton final states
    "conversion_mass": 0.1,  # other pair both electrons below this mass: a conversion
    "electron_id": 0.5,
    "recoil_range": (3.0, 10.5),
    # Veto of tau -> 3 prongs (e+e- -> tau+tau-, 3-1 topology with two pions
    # taken as muons): three tracks below m_tau; not applied above this recoil
    # mass, where the soft muons and one tau daughter of the signal look alike.
    "three_prong_until": 9.5,
}

#: Recoil-mass resolution sigma(m) measured on the signal grid (GeV), used for
#: the binning and by the limit backend (see the channel document).
RESOLUTION = Resolution(
    table=[(3.6, 0.033), (5.0, 0.021), (7.0, 0.013), (9.0, 0.0077), (10.0, 0.0066)]
)


def recoil_edges(low: float, high: float, per_sigma: int = 3) -> np.ndarray[Any, Any]:
    """Bin edges from ``low`` to ``high`` with widths ``sigma(m) / per_sigma``."""
    edges = [low]
    while edges[-1] < high:
        edges.append(edges[-1] + RESOLUTION(edges[-1]) / per_sigma)
    return np.asarray(edges)


def candidates(tracks: Any, photons: Any, beam: Any) -> dict[str, Any]:
    """Per-event stages and per-candidate observables of the cuts (not the classifier).

    Every opposite-charge pair of identified muons among exactly four good
    tracks is a candidate (the other two tracks are the tau daughters).

    Args:
        tracks: ``events.Track`` (possibly momentum-shifted).
        photons: ``events.Photon`` (not used for the selection: the tau
            decays may have pi0s; kept for the signature of shift variations).
        beam: Per-event beam four-momentum.

    Returns:
        ``stages`` (ordered ``{cut: per-event mask}``), ``selected``
        (per-candidate mask), ``m_recoil``, ``m_rest``, ``missing_energy_cm``
        and ``muons`` (the pair's two tracks, for the PID weights), per candidate
        (chunk-long; events failing the preselection have no candidates).
    """
    del photons
    stages, index, good = preselection(tracks)
    found = select(good, beam[index])
    n = len(stages["four_tracks"])
    return {
        "stages": {**stages, **{k: selection.scatter(v, index, n) for k, v in found["stages"].items()}},
        "missing_energy_cm": selection.scatter(found["missing_energy_cm"], index, n, np.nan),
        **{k: selection.expand(found[k], index, n) for k in ("selected", "m_recoil", "m_rest", "muons")},
    }  # fmt: skip


def preselection(tracks: Any) -> tuple[dict[str, Any], np.ndarray[Any, Any], Any]:
    """The shift-independent cuts: ``({cut: chunk-long mask}, positions, their good tracks)``."""
    good = selection.good_tracks(tracks)
    four = ak.num(good) == 4
    event = four & (selection.net_charge(good) == 0)
    index = selection.preselect(event)
    return (
        {"four_tracks": four, "zero_charge": event},
        index,
        good[index],
    )


def select(
    good: Any, beam: Any, frame: tuple[Any, Any] | None = None, model: Classifier | None = None
) -> dict[str, Any]:
    """The selection after :func:`preselection`, on its events (four good tracks, no charge).

    Args:
        good: The good tracks of the preselected events.
        beam: Their per-event beam four-momenta.
        frame: ``(beam, her_direction)`` of :func:`belleflow.selection.cm_frame`
            for these events: the classifier features are computed (key
            ``features``, events x 4 pairs x ``FEATURES``) when given.
        model: Classifier applied last (stage ``classifier``); needs ``frame``.

    Returns:
        ``stages`` (ordered ``{cut: per-event mask}`` of the remaining cuts)
        and the per-candidate values of :func:`candidates`, for these events.
    """
    pairs = selection.opposite_charge_pairs(good)
    is_mumu = (pairs.positive.muonID > CUTS["muon_id"]) & (pairs.negative.muonID > CUTS["muon_id"])
    dimuon = selection.pair_p4(pairs, 13)
    m_recoil = kinematics.recoil_mass(dimuon, beam)
    # The other two tracks (pion hypothesis): all four minus the pair.
    total = selection.sum_p4(good)
    pion_pair = selection.pair_p4(pairs)
    rest = ak.zip(
        {c: total[c] - pion_pair[c] for c in ("px", "py", "pz", "E")}, with_name="Momentum4D"
    )
    m_rest = rest.mass
    # Per event (the four tracks, pion hypothesis: the muon mass changes it by MeV).
    e_miss = kinematics.missing_energy_cm(total, beam)
    # The other two tracks are the pair's complement; with four tracks and
    # zero charge they form the other +- pair: find their electron IDs.
    other_ee = _other_pair_electrons(good, pairs)
    conversion = other_ee & (m_rest < CUTS["conversion_mass"])
    low, high = CUTS["recoil_range"]
    stage_pair = is_mumu
    stage_conv = stage_pair & ~conversion
    stage_miss = stage_conv & (e_miss > CUTS["min_missing_energy_cm"])
    stage_gap = stage_miss & (m_recoil - m_rest > CUTS["recoil_gap"])
    stage_3p = stage_gap & (~_three_prong(good) | (m_recoil > CUTS["three_prong_until"]))
    selected = stage_3p & (m_recoil >= low) & (m_recoil < high)
    stages = {
        "mumu_pair": stage_pair,
        "conversion_veto": stage_conv,
        "missing_energy": stage_miss,
        "recoil_above_rest": stage_gap,
        "three_prong_veto": stage_3p,
        "recoil_range": selected,
    }
    found = {
        "stages": {k: ak.to_numpy(ak.any(v, axis=1)) for k, v in stages.items()},
        "selected": selected,
        "m_recoil": m_recoil,
        "m_rest": m_rest,
        "missing_energy_cm": e_miss,  # per event
        "muons": pairs,
    }
    if frame is None:
        return found
    x = _feature_array(good, *frame)
    found["features"] = x
    if model is None:
        return found
    # Only the selected candidates are evaluated (the others fail anyway).
    keep = _regular(selected).reshape(-1)
    passed = np.zeros(keep.shape, dtype=bool)
    if keep.any():
        passed[keep] = model.predict(x.reshape(-1, len(FEATURES))[keep]) >= model.threshold
    passed_all = ak.unflatten(passed, ak.num(selected))
    found["selected"] = passed_all
    found["stages"]["classifier"] = ak.to_numpy(ak.any(passed_all, axis=1))
    return found


#: Classifier inputs per candidate (CM frame), in column order. Not the
#: recoil mass, nor the dimuon momentum or energy (with the dimuon mass they
#: give the recoil mass): the classifier must not sculpt the recoil spectrum.
FEATURES = (
    "mu_p_ratio_cm",  # softer / harder muon momentum
    "mu_cos_opening_cm",  # between the two muons
    "pair_cos_theta_cm",  # polar angle of the muon pair
    "pair_pt_cm",  # muon-pair momentum transverse to the beams
    "rest_p_cm",  # momentum of the other two tracks (tau side)
    "rest_max_p_cm",  # harder tau-side track
    "rest_cos_opening_cm",  # between the two tau-side tracks
    "rest_energy_fraction",  # E*(tau side) / (sqrt(s) - E*(muon pair)): visible share of the recoil
    "cos_pair_rest_cm",  # between the muon pair and the tau side
    "min_mu_track_angle_cm",  # smallest angle between a muon and a tau-side track (rad)
    "missing_cos_theta_cm",  # polar angle of the missing momentum (per event)
    "missing_pt_cm",  # missing momentum transverse to the beams (per event)
    "rest_n_muons",  # tau-side tracks with muonID > 0.5
    "rest_n_electrons",  # tau-side tracks with electronID > 0.5
)

#: Training declaration for ``belleflow train mumu_tautau``: the whole Z' and
#: S grid and the backgrounds that survive the cuts (docs table; mu+mu- and
#: e+e-mu+mu- leave no candidate after them and are not generated).
TRAINING = TrainingSpec(
    version=1,
    signal_masses=None,
    backgrounds=(
        "tautau",
        "mumutautau",
        "eetautau",
        "uubar",
        "ddbar",
        "ssbar",
        "ccbar",
    ),
    signal_events=2000,
    background_events=150000,
    signal_efficiency=0.8,
)

#: The trained classifier shipped with the channel.
MODEL = resources.model_path("mumu_tautau", TRAINING.version)

#: The (positive, negative) track of each of the four pairs of
#: :func:`belleflow.selection.opposite_charge_pairs` with two tracks of each
#: charge; the other two tracks of pair k are those of pair 3 - k.
_POS = np.array([0, 0, 1, 1])
_NEG = np.array([0, 1, 0, 1])


def _regular(values: Any) -> np.ndarray[Any, Any]:
    """A jagged array with the same length in every event as a NumPy array."""
    return np.asarray(ak.to_numpy(ak.to_regular(values, axis=1)))


def _feature_array(good: Any, beam: Any, her: Any) -> np.ndarray[Any, Any]:
    """Features (events x 4 pairs x ``FEATURES``) of the four-track, zero-charge events.

    Args:
        good: Four good tracks per event, two of each charge.
        beam: Per-event beam four-momentum (NumPy ``vector`` array of
            :func:`belleflow.selection.cm_frame`).
        her: The e- beam direction (idem).
    """
    n = len(good)
    plus, minus = good[good.charge > 0], good[good.charge < 0]
    # Columns: +0, +1, -0, -1.
    cols = {
        c: np.concatenate([_regular(plus[c]), _regular(minus[c])], axis=1).reshape(n, 4)
        for c in ("px", "py", "pz", "E", "muonID", "electronID")
    }
    b = {
        c: np.repeat(np.asarray(getattr(beam, c), dtype=np.float64), 4)
        for c in ("px", "py", "pz", "E")
    }
    p4 = vector.array({c: cols[c].reshape(-1).astype(np.float64) for c in ("px", "py", "pz", "E")})
    cm = kinematics.to_cm(p4, vector.array(b), her)
    v = np.stack([np.asarray(getattr(cm, c)).reshape(n, 4) for c in ("px", "py", "pz")], axis=-1)
    e = np.asarray(cm.E).reshape(n, 4)
    sqrt_s = np.sqrt(np.maximum(b["E"] ** 2 - b["px"] ** 2 - b["py"] ** 2 - b["pz"] ** 2, 0.0))
    sqrt_s = sqrt_s.reshape(n, 4)
    mu_p, mu_n = v[:, _POS], v[:, 2 + _NEG]  # (n, 4 pairs, 3)
    ta_p, ta_n = v[:, 1 - _POS], v[:, 3 - _NEG]
    e_rest = e[:, 1 - _POS] + e[:, 3 - _NEG]

    def norm(a: Any) -> Any:
        return np.sqrt(np.sum(a * a, axis=-1))

    def cos(a: Any, b: Any) -> Any:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.clip(np.sum(a * b, axis=-1) / (norm(a) * norm(b)), -1.0, 1.0)

    m_mu = kinematics.mass("mu-")
    p_mp, p_mn = norm(mu_p), norm(mu_n)
    pair, rest = mu_p + mu_n, ta_p + ta_n
    e_pair = np.sqrt(p_mp**2 + m_mu**2) + np.sqrt(p_mn**2 + m_mu**2)
    missing = -(pair + rest)
    angles = np.arccos(np.stack([cos(m, t) for m in (mu_p, mu_n) for t in (ta_p, ta_n)]))
    is_mu = cols["muonID"] > CUTS["muon_id"]
    is_e = cols["electronID"] > CUTS["electron_id"]
    with np.errstate(invalid="ignore", divide="ignore"):
        columns = {
            "mu_p_ratio_cm": np.minimum(p_mp, p_mn) / np.maximum(p_mp, p_mn),
            "mu_cos_opening_cm": cos(mu_p, mu_n),
            "pair_cos_theta_cm": pair[..., 2] / norm(pair),
            "pair_pt_cm": np.hypot(pair[..., 0], pair[..., 1]),
            "rest_p_cm": norm(rest),
            "rest_max_p_cm": np.maximum(norm(ta_p), norm(ta_n)),
            "rest_cos_opening_cm": cos(ta_p, ta_n),
            "rest_energy_fraction": e_rest / (sqrt_s - e_pair),
            "cos_pair_rest_cm": cos(pair, rest),
            "min_mu_track_angle_cm": angles.min(axis=0),
            "missing_cos_theta_cm": missing[..., 2] / norm(missing),
            "missing_pt_cm": np.hypot(missing[..., 0], missing[..., 1]),
            "rest_n_muons": (is_mu[:, 1 - _POS] + is_mu[:, 3 - _NEG]).astype(np.float64),
            "rest_n_electrons": (is_e[:, 1 - _POS] + is_e[:, 3 - _NEG]).astype(np.float64),
        }
    return np.stack([columns[f] for f in FEATURES], axis=-1).reshape(n, 4, len(FEATURES))


def classifier() -> Classifier:
    """The shipped classifier (an error if it is missing)."""
    return shipped_classifier(MODEL, "mumu_tautau")


def features(events: Any) -> tuple[Any, Any, Any]:
    """Training inputs: ``(X, m_recoil, truth)`` per selected candidate (``belleflow train``).

    ``truth``: both legs are generated muons without a parent (not tau daughters).
    """
    _, index, good = preselection(events.Track)
    cm_beam, her = selection.cm_frame(events)
    found = select(good, events.beam[index], (cm_beam[index], her))
    sel = _regular(found["selected"]).reshape(-1)
    x = found["features"].reshape(-1, len(FEATURES))[sel]
    m = _regular(found["m_recoil"]).reshape(-1)[sel]
    truth = np.zeros(len(m), dtype=bool)
    if len(index) and "MCParticle" in events.fields:
        pairs = found["muons"]
        primary = [
            (abs(ak.fill_none(leg.mc.PDG, 0)) == 13) & (ak.fill_none(leg.mc.parent.PDG, 0) == 0)
            for leg in (pairs.positive, pairs.negative)
        ]
        truth = _regular(primary[0] & primary[1]).reshape(-1)[sel]
    return x, m, truth


def _three_prong(good: Any) -> Any:
    """Per event: do three of the tracks (pion hypothesis) have a mass below m_tau?"""
    trip = ak.combinations(good, 3, fields=["a", "b", "c"])
    m3 = (trip.a + trip.b + trip.c).mass
    return ak.fill_none(ak.any(m3 < kinematics.mass("tau-"), axis=1), False)


def _other_pair_electrons(good: Any, pairs: Any) -> Any:
    """Per pair: are both of the other two tracks electron candidates?

    With four tracks of zero net charge, the electron-ID count of the event
    minus that of the pair is 2 exactly when both other tracks are electrons.
    """
    is_e = good.electronID > CUTS["electron_id"]
    n_event = ak.sum(is_e, axis=1)
    n_pair = ak.values_astype(pairs.positive.electronID > CUTS["electron_id"], int) + (
        ak.values_astype(pairs.negative.electronID > CUTS["electron_id"], int)
    )
    return (n_event - n_pair) == 2


class MuMuTauTauProcessor(ChannelProcessor):
    """Recoil mass against mu+mu- in four-track events with missing energy."""

    histograms: ClassVar[Mapping[str, Sequence[Any]]] = {
        "m_recoil": (
            hist.axis.Variable(
                recoil_edges(*CUTS["recoil_range"]),
                name="m_recoil",
                label=r"$M_{recoil}(\mu^+\mu^-)$ [GeV]",
            ),
        ),
        "m_rest": (hist.axis.Regular(100, 0.0, 10.0, name="m_rest", label="M(other pair) [GeV]"),),
    }
    signal_windows: ClassVar[Mapping[str, Sequence[tuple[float, float]]]] = {
        "m_recoil": ((3.6, 10.0),)
    }

    def process_chunk(self, events: Any, chunk: Any) -> None:
        """Nominal selection with cutflow, then PID/tracking weights and momentum shifts.

        The shipped classifier (``MODEL``) is the last cut, ``classifier``.
        Everything after the (shift-independent) preselection runs on its events only.
        """
        pre, index, good = preselection(events.Track)
        beam = events.beam[index]
        model = classifier()
        cm_beam, her = selection.cm_frame(events)
        frame = (cm_beam[index], her)
        nominal = select(good, beam, frame, model)
        for name, mask in pre.items():
            chunk.cut(name, mask)
        for name, mask in nominal["stages"].items():
            chunk.cut(name, selection.scatter(mask, index, chunk.n_events))
        event = chunk.cutflow.selection
        final = event[index]
        sel = nominal["selected"][final]
        mu = nominal["muons"][final][sel]
        n_selected = int(np.count_nonzero(final))
        weights = systematics.weight_variations(pid=_legs(mu), tracking=np.full(n_selected, 4))
        systematics.fill_variations(
            chunk, "m_recoil", weights, mask=event, m_recoil=nominal["m_recoil"][final][sel]
        )
        chunk.fill("m_rest", mask=event, m_rest=nominal["m_rest"][final][sel])
        for variation, tracks, _ in systematics.shift_variations(good):
            shifted = select(tracks, beam, frame, model)
            ok = list(shifted["stages"].values())[-1]
            chunk.fill(
                "m_recoil",
                mask=selection.scatter(ok, index, chunk.n_events),
                variation=variation,
                m_recoil=shifted["m_recoil"][ok][shifted["selected"][ok]],
            )


def _legs(pairs: Any) -> Any:
    """The two muon tracks of each candidate as one jagged list per candidate."""
    return ak.concatenate([pairs.positive[..., None], pairs.negative[..., None]], axis=-1)


#: Signal mass grid (GeV), as in ``datasets/belleflow.yaml``.
GRID = (3.6, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 9.5, 10.0)


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
        systematics=[Systematic(name=n) for n in ("pid", "tracking", "momentum_scale")],
        coupling=CouplingReference(
            coupling=1.0, power=2.0, masses=list(GRID), reference=[reference(m) for m in GRID]
        ),
    )


#: Statistical models by signal model: sigma x B (fb) at 90 % CL, converted
#: to g' (Z') and xi (scalar) with the leading-log rate estimates.
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
    processor_class=MuMuTauTauProcessor,
    statistical_model=STAT_MODELS,
)
