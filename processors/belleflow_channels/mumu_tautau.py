"""``mumu_tautau``: a tau+tau- resonance recoiling against a muon pair.

Belle II, PRL 131, 121802 (2023), arXiv:2306.12294 (62.8 fb^-1): e+e- ->
mu+mu- X, X -> tau+tau-, 3.6-10 GeV. Two identified opposite-charge muons
plus two one-prong tau decays (exactly four tracks, zero net charge) and
missing energy; the observable is the mass recoiling against the muon pair.
The paper's neural networks are replaced by cuts (``docs/channels/mumu_tautau.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import awkward as ak
import hist
import numpy as np

from belleflow import kinematics, selection, systematics
from belleflow.generation.signal_models.mumu_tautau import (
    MASS_RANGE,
    scalar_reference_fb,
    zprime_reference_fb,
)
from belleflow.limits.model import CouplingReference, Resolution, StatModel, Systematic
from belleflow.processor import Channel, ChannelProcessor

__all__ = [
    "CUTS",
    "GRID",
    "RESOLUTION",
    "STAT_MODELS",
    "MuMuTauTauProcessor",
    "candidates",
    "channel",
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
    """Per-event stages and per-candidate observables of the selection.

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


def select(good: Any, beam: Any) -> dict[str, Any]:
    """The selection after :func:`preselection`, on its events (four good tracks, no charge).

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
    return {
        "stages": {k: ak.to_numpy(ak.any(v, axis=1)) for k, v in stages.items()},
        "selected": selected,
        "m_recoil": m_recoil,
        "m_rest": m_rest,
        "missing_energy_cm": e_miss,  # per event
        "muons": pairs,
    }


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

        Everything after the (shift-independent) preselection runs on its events only.
        """
        pre, index, good = preselection(events.Track)
        beam = events.beam[index]
        nominal = select(good, beam)
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
            shifted = select(tracks, beam)
            ok = shifted["stages"]["recoil_range"]
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
