"""``tautau_phil``: a leptophilic scalar in e+e- -> tau+tau- phi_L, phi_L -> l+l-.

Belle, PRD 109, 032002 (2024), arXiv:2207.07476 (626 fb^-1): four tracks of
zero net charge, an opposite-charge same-flavour lepton pair (e+e- below the
dimuon threshold, mu+mu- above, the e+e- legs possibly displaced) and two
prompt one-prong tau daughters, large missing mass; the observable is
M(l+l-) from 0.04 to 6.5 GeV. The paper's multiclass BDT is replaced by
cuts until ``belleflow train`` exists (``docs/channels/tautau_phil.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import awkward as ak
import hist
import numpy as np

from belleflow import kinematics, resources, selection, systematics
from belleflow.generation.signal_models.leptophilic_scalar import MASS_RANGE, phil_reference_fb
from belleflow.limits.model import CouplingReference, Resolution, StatModel, Systematic
from belleflow.processor import Channel, ChannelProcessor
from belleflow.training.evaluate import Classifier, shipped_classifier
from belleflow.training.trainer import TrainingSpec

__all__ = [
    "CUTS",
    "FEATURES",
    "GRID",
    "LIFETIMES",
    "RESOLUTION",
    "STAT_MODEL",
    "STAT_MODEL_DISPLACED",
    "TRAINING",
    "TauTauPhiLProcessor",
    "candidates",
    "channel",
    "classifier",
    "features",
    "mass_edges",
]

#: Selection thresholds (GeV, cm, likelihood ratios); see the channel document.
CUTS = {
    "lepton_id": 0.9,  # both legs of the phi_L candidate (electronID or muonID)
    "loose_dr": 20.0,  # lepton legs may come from a displaced phi_L decay
    "loose_dz": 20.0,
    "min_missing_mass": 1.0,  # at least two neutrinos
    "min_conversion_mass": 0.03,  # e+e- below: photon conversions
    "veto_sigma": 3.0,  # J/psi, psi(2S) -> mu+mu- windows in resolution units
    "mass_range": (0.02, 6.6),
}

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


def mass_edges(low: float, high: float, per_sigma: int = 3) -> np.ndarray[Any, Any]:
    """Bin edges from ``low`` to ``high`` with widths ``sigma(m) / per_sigma``."""
    edges = [low]
    while edges[-1] < high:
        edges.append(edges[-1] + RESOLUTION(edges[-1]) / per_sigma)
    return np.asarray(edges)


def candidates(tracks: Any, beam: Any) -> dict[str, Any]:
    """Per-event stages and per-candidate M(l+l-) of the selection.

    Every opposite-charge pair of identified electrons (kept below the dimuon
    threshold) or muons among exactly four loose tracks whose other two
    tracks are prompt is a candidate.

    Returns:
        ``stages`` (ordered ``{cut: per-event mask}``), ``selected``
        (per-candidate mask), ``m_ll`` and ``legs`` (the pairs) per candidate.
    """
    loose = selection.good_tracks(tracks, max_dr=CUTS["loose_dr"], max_dz=CUTS["loose_dz"])
    four = ak.num(loose) == 4
    neutral = selection.net_charge(loose) == 0
    prompt = selection.good_track_mask(loose)
    pairs = selection.opposite_charge_pairs(ak.with_field(loose, prompt, "prompt"))
    cut = CUTS["lepton_id"]
    ee = (pairs.positive.electronID > cut) & (pairs.negative.electronID > cut)
    mumu = (pairs.positive.muonID > cut) & (pairs.negative.muonID > cut)
    m_ee = selection.pair_p4(pairs, "e-").mass
    m_mumu = selection.pair_p4(pairs, "mu-").mass
    threshold = 2.0 * kinematics.mass("mu-")
    is_ee = ee & ~mumu & (m_ee < threshold)
    is_mumu = mumu & ~ee
    m_ll = ak.where(is_ee, m_ee, m_mumu)
    # The other two tracks (the tau daughters) must be prompt.
    n_prompt = ak.sum(prompt, axis=1)
    legs_prompt = ak.values_astype(pairs.positive.prompt, int) + ak.values_astype(
        pairs.negative.prompt, int
    )
    taus_prompt = (n_prompt - legs_prompt) == 2
    missing_m2 = kinematics.missing_mass2(selection.sum_p4(loose), beam)
    resonances = selection.resonance_veto(
        m_mumu, ("J/psi(1S)", "psi(2S)"), resolution=RESOLUTION, n_sigma=CUTS["veto_sigma"]
    )
    low, high = CUTS["mass_range"]
    stage_pair = is_ee | is_mumu
    stage_taus = stage_pair & taus_prompt
    stage_miss = stage_taus & (missing_m2 > CUTS["min_missing_mass"] ** 2)
    stage_conv = stage_miss & (~is_ee | (m_ee > CUTS["min_conversion_mass"]))
    stage_res = stage_conv & (~is_mumu | resonances)
    selected = stage_res & (m_ll >= low) & (m_ll < high)
    event = four & neutral
    stages = {
        "four_tracks": four,
        "zero_charge": event,
        "lepton_pair": event & ak.any(stage_pair, axis=1),
        "prompt_taus": event & ak.any(stage_taus, axis=1),
        "missing_mass": event & ak.any(stage_miss, axis=1),
        "conversion_veto": event & ak.any(stage_conv, axis=1),
        "charmonium_veto": event & ak.any(stage_res, axis=1),
        "mass_range": event & ak.any(selected, axis=1),
    }
    return {
        "stages": stages,
        "selected": selected & event,
        "m_ll": m_ll,
        "legs": pairs,
        "loose": loose,
        "missing_m2": missing_m2,
        "lepton_mass": ak.where(is_ee, kinematics.mass("e-"), kinematics.mass("mu-")),
    }


#: Classifier inputs per candidate. Neither the dilepton mass (it would sculpt
#: the background) nor the legs' impact parameters (the training signal is
#: prompt; the displaced points must not be rejected for being displaced).
FEATURES = (
    "missing_mass",
    "missing_cos_theta_cm",
    "visible_energy_cm",
    "pair_p_cm",
    "pair_cos_opening",
    "rest_mass",
    "rest_p_cm",
    "min_tau_angle",
    "min_lepton_p",
    "event_pt",
)

#: Training declaration for ``belleflow train tautau_phil`` (prompt grid points).
TRAINING = TrainingSpec(
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
)

#: Where ``belleflow train`` writes the channel's classifier.
MODEL_PATH = resources.model_path("tautau_phil", TRAINING.version)


def classifier() -> Classifier:
    """The shipped classifier (an error if it is missing)."""
    return shipped_classifier(MODEL_PATH, "tautau_phil")


def _feature_matrix(found: dict[str, Any], beam: Any, her: Any) -> Any:
    """Per-candidate features (jagged records, ``FEATURES`` fields) of :func:`candidates`."""
    pairs, loose = found["legs"], found["loose"]
    m_l = found["lepton_mass"]
    lep_p = kinematics.with_mass(pairs.positive, m_l)
    lep_n = kinematics.with_mass(pairs.negative, m_l)
    pair = lep_p + lep_n
    total = selection.sum_p4(loose)
    rest = ak.zip(
        {
            c: total[c] - getattr(pairs.positive + pairs.negative, c)
            for c in ("px", "py", "pz", "E")
        },
        with_name="Momentum4D",
        behavior=loose.behavior,
    )
    pair_cm = kinematics.to_cm(pair, beam, her)
    rest_cm = kinematics.to_cm(rest, beam, her)
    missing = kinematics.missing_p4(total, beam)
    # Angle between the pair and the nearer tau daughter (phi_L is radiated off a tau).
    others = ak.cartesian([pairs, loose], nested=True)
    other = others["1"]
    is_leg = (other.px == others["0"].positive.px) | (other.px == others["0"].negative.px)
    cos = (pair.px * other.px + pair.py * other.py + pair.pz * other.pz) / (pair.p * other.p)
    min_angle = ak.min(
        ak.where(
            is_leg, np.pi, np.arccos(ak.where(cos > 1.0, 1.0, ak.where(cos < -1.0, -1.0, cos)))
        ),
        axis=-1,
    )
    p_legs = np.minimum(pairs.positive.p, pairs.negative.p)
    opening = (lep_p.px * lep_n.px + lep_p.py * lep_n.py + lep_p.pz * lep_n.pz) / (
        lep_p.p * lep_n.p
    )
    columns = {
        "missing_mass": np.sqrt(np.maximum(found["missing_m2"], 0.0)),
        "missing_cos_theta_cm": kinematics.cos_theta_cm(missing, beam, her),
        "visible_energy_cm": kinematics.to_cm(total, beam, her).E,
        "pair_p_cm": pair_cm.p,
        "pair_cos_opening": opening,
        "rest_mass": rest.mass,
        "rest_p_cm": rest_cm.p,
        "min_tau_angle": min_angle,
        "min_lepton_p": p_legs,
        "event_pt": np.hypot(total.px, total.py),
    }
    template = found["m_ll"]
    return {name: ak.broadcast_arrays(value, template)[0] for name, value in columns.items()}


def _stack(columns: dict[str, Any], mask: Any) -> np.ndarray[Any, Any]:
    """Flat (candidates x features) matrix of the candidates in ``mask``."""
    return np.stack(
        [ak.to_numpy(ak.flatten(columns[name][mask])).astype(np.float64) for name in FEATURES],
        axis=1,
    )


def features(events: Any) -> tuple[Any, Any, Any]:
    """Training inputs: ``(X, m_ll, truth)`` per selected candidate (``belleflow train``).

    ``truth``: both legs are daughters of the phi_L (MC truth).
    """
    beam, her = selection.cm_frame(events)
    found = candidates(events.Track, beam)
    columns = _feature_matrix(found, beam, her)
    sel = found["selected"]
    pairs = found["legs"]
    phi = 9000004  # DARK_PDG["phi_L"]
    truth = (ak.fill_none(pairs.positive.mc.parent.PDG, 0) == phi) & (
        ak.fill_none(pairs.negative.mc.parent.PDG, 0) == phi
    )
    return (
        _stack(columns, sel),
        ak.to_numpy(ak.flatten(found["m_ll"][sel])),
        ak.to_numpy(ak.flatten(truth[sel])),
    )


def _legs(pairs: Any) -> Any:
    """The two lepton tracks of each candidate as one list per candidate."""
    return ak.concatenate([pairs.positive[..., None], pairs.negative[..., None]], axis=-1)


def _apply_classifier(
    found: dict[str, Any], model: Classifier, beam: Any, her: Any
) -> dict[str, Any]:
    """Add the ``classifier`` stage: selected candidates with score >= threshold.

    Only the selected candidates are evaluated (the others fail anyway).
    """
    sel = found["selected"]
    columns = _feature_matrix(found, beam, her)
    flat = _stack(columns, sel)
    passed = np.zeros(len(flat), dtype=bool)
    if len(flat):
        passed = model.predict(flat) >= model.threshold
    flat_sel = ak.to_numpy(ak.flatten(sel))
    keep = np.zeros(len(flat_sel), dtype=bool)
    keep[flat_sel] = passed
    passed_all = ak.unflatten(keep, ak.num(sel))
    stages = dict(found["stages"])
    stages["classifier"] = stages["mass_range"] & ak.any(passed_all, axis=1)
    return {**found, "stages": stages, "selected": passed_all}


class TauTauPhiLProcessor(ChannelProcessor):
    """M(l+l-) of phi_L candidates in four-track events with missing mass."""

    histograms: ClassVar[Mapping[str, Sequence[Any]]] = {
        "m_ll": (
            hist.axis.Variable(
                mass_edges(*CUTS["mass_range"]), name="m_ll", label=r"$M(\ell^+\ell^-)$ [GeV]"
            ),
        ),
    }
    signal_windows: ClassVar[Mapping[str, Sequence[tuple[float, float]]]] = {
        "m_ll": ((MASS_RANGE[0], MASS_RANGE[1]),)
    }

    def process_chunk(self, events: Any, chunk: Any) -> None:
        """Nominal selection with cutflow, then PID/tracking weights and momentum shifts.

        Everything after the (shift-independent) four-track, zero-charge
        preselection runs on its events only.
        """
        loose = selection.good_tracks(
            events.Track, max_dr=CUTS["loose_dr"], max_dz=CUTS["loose_dz"]
        )
        four = chunk.cut("four_tracks", ak.num(loose) == 4)
        index = selection.preselect(four & ak.to_numpy(selection.net_charge(loose) == 0))
        tracks, beam = events.Track[index], events.beam[index]
        model = classifier()
        cm_beam, her = selection.cm_frame(events)
        frame = cm_beam[index], her

        def select(tracks: Any) -> dict[str, Any]:
            found = candidates(tracks, beam)
            return _apply_classifier(found, model, *frame)

        nominal = select(tracks)
        for name, mask in list(nominal["stages"].items())[1:]:
            chunk.cut(name, selection.scatter(mask, index, chunk.n_events))
        event = chunk.cutflow.selection
        final = event[index]
        sel = nominal["selected"][final]
        legs = nominal["legs"][final][sel]
        n_selected = int(np.count_nonzero(final))
        weights = systematics.weight_variations(pid=_legs(legs), tracking=np.full(n_selected, 4))
        systematics.fill_variations(
            chunk, "m_ll", weights, mask=event, m_ll=nominal["m_ll"][final][sel]
        )
        for variation, shifted_tracks, _ in systematics.shift_variations(tracks):
            shifted = select(shifted_tracks)
            ok = ak.to_numpy(list(shifted["stages"].values())[-1])
            chunk.fill(
                "m_ll",
                mask=selection.scatter(ok, index, chunk.n_events),
                variation=variation,
                m_ll=shifted["m_ll"][ok][shifted["selected"][ok]],
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
        systematics=[Systematic(name=n) for n in ("pid", "tracking", "momentum_scale")],
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
    processor_class=TauTauPhiLProcessor,
    statistical_model={"prompt": STAT_MODEL, "displaced": STAT_MODEL_DISPLACED},
)
