"""Dark Higgsstrahlung e+e- -> A' h', h' -> A'A', three A' -> l+l- / pi+pi- (exclusive modes).

Belle, PRL 114, 211801 (2015), arXiv:1502.00084 (977 fb^-1); run on the Belle
(KEKB) samples. Six tracks form three opposite-charge, same-flavour pairs of
equal mass; m_A' is their average mass and each of the three pairs of pairs
is an h' candidate (m_h' = four-track mass). Selection and performance:
``docs/channels/dark_higgsstrahlung.md``.
"""

from __future__ import annotations

import itertools
from typing import Any

import awkward as ak
import hist
import numpy as np

from belleflow import kinematics, selection, systematics
from belleflow.generation.signal_models.dark_higgsstrahlung import (
    AP_MASS_RANGE,
    AP_MASSES,
    HP_MASS_RANGE,
    higgsstrahlung_cross_section_fb,
    model_name,
    visible_fraction,
)
from belleflow.limits.model import CouplingReference, Resolution, StatModel, Systematic
from belleflow.naming import NOMINAL
from belleflow.processor import Channel, ChannelProcessor, ChunkContext

__all__ = [
    "AP_RESOLUTION",
    "CONSISTENCY_NSIGMA",
    "DarkHiggsstrahlungProcessor",
    "ap_resolution",
    "channel",
    "hp_resolution",
    "select",
]

#: Pair-mass resolution sigma(m) = a + b m (GeV) of one A' candidate,
#: measured on the signal grid (Belle detector model).
AP_RESOLUTION = (0.0002, 0.0025)
#: Four-track (h') mass resolution sigma(m) = a + b m (GeV), measured.
HP_RESOLUTION = (0.0005, 0.0022)
#: Each pair mass within this many resolutions of the average of the three.
CONSISTENCY_NSIGMA = 3.0
#: Visible CM energy over sqrt(s) (bremsstrahlung of electrons lowers it).
ENERGY_FRACTION_MIN = 0.9
#: |sum of CM momenta| over sqrt(s).
MAX_MISSING_P_FRACTION = 0.05
#: At most this many pi+pi- pairs (pion-rich six-track events are continuum).
MAX_PION_PAIRS = 1
#: Window of an A' hypothesis for the 1D m_h' spectra (resolutions of the average).
AP_WINDOW_NSIGMA = 2.0

_FLAVOURS = (("electronID", "e-"), ("muonID", "mu-"))
_PERMUTATIONS = tuple(itertools.permutations(range(3)))


def ap_resolution(m: Any) -> Any:
    """sigma of one pair mass (GeV); the average of three is ``/sqrt(3)``."""
    return AP_RESOLUTION[0] + AP_RESOLUTION[1] * m


def hp_resolution(m: Any) -> Any:
    """sigma of the h' (four-track) mass (GeV)."""
    return HP_RESOLUTION[0] + HP_RESOLUTION[1] * m


def _edges(low: float, high: float, sigma: Any, per_sigma: float) -> np.ndarray:
    edges = [low]
    while edges[-1] < high:
        edges.append(edges[-1] + float(sigma(edges[-1])) / per_sigma)
    return np.array(edges)


def _average_resolution(m: Any) -> Any:
    return ap_resolution(m) / np.sqrt(3.0)


#: Fine 1D bins (a third of the resolution) and coarse 2D bins (about 4 %).
AP_BINS = _edges(*AP_MASS_RANGE, _average_resolution, 3.0)
HP_BINS = _edges(*HP_MASS_RANGE, hp_resolution, 3.0)
PLANE_AP_BINS = np.geomspace(*AP_MASS_RANGE, 91)
PLANE_HP_BINS = np.geomspace(*HP_MASS_RANGE, 101)


def _tag(ap_mass: float) -> str:
    return f"m_hp_ap{ap_mass:g}".replace(".", "p")


def _flavour(tracks: Any) -> Any:
    """0 electron, 1 muon, 2 pion (electron ID first: it is the purer)."""
    return ak.where(tracks.electronID > 0.5, 0, ak.where(tracks.muonID > 0.5, 1, 2))


def _hypothesis_p4(tracks: Any, flavour: Any) -> Any:
    p2 = tracks.px**2 + tracks.py**2 + tracks.pz**2
    m = ak.where(
        flavour == 0,
        kinematics.mass("e-"),
        ak.where(flavour == 1, kinematics.mass("mu-"), kinematics.mass("pi-")),
    )
    return ak.zip(
        {"px": tracks.px, "py": tracks.py, "pz": tracks.pz, "E": np.sqrt(p2 + m * m)},
        with_name="Momentum4D",
        behavior=tracks.behavior,
    )


def select(events: Any, tracks: Any, chunk: ChunkContext | None = None) -> tuple[Any, Any, Any]:
    """Six-track selection and best pairing.

    Returns:
        Event mask, and for the selected events the three A' candidate
        four-momenta (n, 3) of the best pairing and the average pair mass.
    """

    def cut(name: str, mask: Any) -> Any:
        return chunk.cut(name, mask) if chunk is not None else mask

    good = selection.good_tracks(tracks)
    mask = cut("six_tracks", ak.num(good) == 6)
    mask = mask & cut("zero_charge", selection.net_charge(good) == 0)
    flavour = _flavour(good)
    p4 = _hypothesis_p4(good, flavour)
    beam, her = selection.cm_frame(events)
    total = selection.sum_p4(p4)
    roots = kinematics.invariant_mass(beam)
    fraction = kinematics.to_cm(total, beam, her).E / roots
    missing = kinematics.p_cm(total, beam) / roots
    mask = mask & cut(
        "full_reconstruction",
        (fraction > ENERGY_FRACTION_MIN) & (fraction < 1.0 + MAX_MISSING_P_FRACTION)
        & (missing < MAX_MISSING_P_FRACTION),
    )  # fmt: skip
    # Pairings of the selected events: each positive track with one negative.
    sel = np.asarray(mask)
    pos, neg = good.charge[sel] > 0, good.charge[sel] < 0
    p_pos, p_neg = p4[sel][pos], p4[sel][neg]
    f_pos, f_neg = flavour[sel][pos], flavour[sel][neg]
    best_spread = None
    best: list[Any] = []
    best_ok = None
    for perm in _PERMUTATIONS:
        pairs = [p_pos[:, i] + p_neg[:, j] for i, j in enumerate(perm)]
        same = [f_pos[:, i] == f_neg[:, j] for i, j in enumerate(perm)]
        n_pion = sum(ak.values_astype(f_pos[:, i] == 2, np.int64) for i in range(3))
        masses = [p.mass for p in pairs]
        average = (masses[0] + masses[1] + masses[2]) / 3.0
        spread = np.maximum.reduce([abs(m - average) / ap_resolution(average) for m in masses])
        ok = same[0] & same[1] & same[2] & (n_pion <= MAX_PION_PAIRS)
        spread = ak.where(ok, spread, np.inf)
        if best_spread is None:
            best_spread, best, best_ok = spread, pairs, ok
        else:
            better = spread < best_spread
            best = [ak.where(better, new, old) for new, old in zip(pairs, best, strict=True)]
            best_spread = ak.where(better, spread, best_spread)
            best_ok = best_ok | ok
    if best_spread is None or len(best_spread) == 0:
        empty = np.zeros(len(mask), dtype=bool)
        cut("same_flavour_pairs", empty)
        cut("equal_masses", empty)
        return empty, None, None
    flavour_ok = np.zeros(len(mask), dtype=bool)
    flavour_ok[sel] = ak.to_numpy(best_ok)
    mask = mask & cut("same_flavour_pairs", flavour_ok)
    equal = np.zeros(len(mask), dtype=bool)
    equal[sel] = ak.to_numpy(best_spread < CONSISTENCY_NSIGMA)
    mask = mask & cut("equal_masses", equal)
    keep = np.asarray(mask)[sel]
    pairs = [p[keep] for p in best]
    average = (pairs[0].mass + pairs[1].mass + pairs[2].mass) / 3.0
    return np.asarray(mask), pairs, average


def h_candidates(pairs: list[Any]) -> Any:
    """The three h' masses of each event (n, 3): every two of the three A' candidates."""
    return ak.from_regular(
        ak.concatenate(
            [(pairs[i] + pairs[j]).mass[:, None] for i, j in ((0, 1), (0, 2), (1, 2))], axis=1
        )
    )


class DarkHiggsstrahlungProcessor(ChannelProcessor):
    """Three equal-mass pairs: (m_A', m_h') plane and its 1D projections."""

    histograms = {  # noqa: RUF012 - class-level declaration
        "m_Ap": (hist.axis.Variable(AP_BINS, name="m_Ap", label=r"$m_{A'}$ [GeV]"),),
        "m_hp": (hist.axis.Variable(HP_BINS, name="m_hp", label=r"$m_{h'}$ [GeV]"),),
        "mass_plane": (
            hist.axis.Variable(PLANE_AP_BINS, name="m_Ap", label=r"$m_{A'}$ [GeV]"),
            hist.axis.Variable(PLANE_HP_BINS, name="m_hp", label=r"$m_{h'}$ [GeV]"),
        ),
        **{
            _tag(m): (hist.axis.Variable(HP_BINS, name="m_hp", label=rf"$m_{{h'}}$, $m_{{A'}}$ = {m:g} GeV"),)
            for m in AP_MASSES
        },
    }  # fmt: skip
    signal_windows = {"m_Ap": (AP_MASS_RANGE,), "m_hp": (HP_MASS_RANGE,)}  # noqa: RUF012

    def _fill(self, chunk: ChunkContext, mask: Any, pairs: list[Any], m_ap: Any,
              variation: str, weight: Any = None) -> None:  # fmt: skip
        m_hp = h_candidates(pairs)
        m_ap3 = ak.broadcast_arrays(m_ap, m_hp)[0]
        chunk.fill("m_Ap", mask=mask, variation=variation, weight=weight, m_Ap=m_ap)
        chunk.fill("m_hp", mask=mask, variation=variation, weight=weight, m_hp=m_hp)
        chunk.fill("mass_plane", mask=mask, variation=variation, weight=weight,
                   m_Ap=m_ap3, m_hp=m_hp)  # fmt: skip
        for ap_mass in AP_MASSES:
            window = AP_WINDOW_NSIGMA * _average_resolution(ap_mass)
            inside = m_hp[abs(m_ap3 - ap_mass) < window]
            chunk.fill(_tag(ap_mass), mask=mask, variation=variation, weight=weight, m_hp=inside)

    def process_chunk(self, events: Any, chunk: ChunkContext) -> None:
        """Select, pair, fill nominal and systematic variations."""
        tracks = events.Track
        mask, pairs, m_ap = select(events, tracks, chunk)
        if pairs is None:
            return
        self._fill(chunk, mask, pairs, m_ap, NOMINAL)
        if chunk.kind == "data":
            return
        good = selection.good_tracks(tracks[mask])
        leptons = (good.electronID > 0.5) | (good.muonID > 0.5)
        weights = systematics.weight_variations(pid=good, pid_identified=leptons, tracking=good)
        for variation, weight in weights.items():
            self._fill(chunk, mask, pairs, m_ap, variation, weight)
        for variation, shifted, _ in systematics.shift_variations(tracks=tracks):
            s_mask, s_pairs, s_m_ap = select(events, shifted)
            if s_pairs is not None:
                self._fill(chunk, s_mask, s_pairs, s_m_ap, variation)


def _statistical_model(ap_mass: float) -> Any:
    hp_masses = [float(m) for m in np.linspace(max(2.0 * ap_mass, 0.2) * 1.01, 10.5 - ap_mass, 12)]
    return StatModel(
        channel="dark_higgsstrahlung",
        observable=_tag(ap_mass),
        mass_range=(hp_masses[0], hp_masses[-1]),
        scan_step=1.0,
        resolution=Resolution(polynomial=list(HP_RESOLUTION)),
        signal_model=model_name(ap_mass),
        window=2.0,
        # POI sigma x B (fb) with B = (B_ee + B_mumu + B_pipi)^3; converted to
        # alpha_D eps^2 (linear: power 1) with the tree-level cross section.
        units="coupling:alpha_D_eps2",
        coupling=CouplingReference(
            coupling=1.0,
            power=1.0,
            masses=hp_masses,
            reference=[
                higgsstrahlung_cross_section_fb(ap_mass, m) * visible_fraction(ap_mass)
                for m in hp_masses
            ],
        ),
        cl=0.90,
        systematics=[
            Systematic(name="pid"),
            Systematic(name="tracking"),
            Systematic(name="momentum_scale"),
        ],
    )


#: One statistical model per A' grid mass (1D scan in m_h' inside the A'
#: window); the limit backend is one-dimensional (see the docs).
STATISTICAL_MODELS = {model_name(m): _statistical_model(m) for m in AP_MASSES}

channel = Channel(
    name="dark_higgsstrahlung",
    description="Dark Higgsstrahlung e+e- -> A' h', h' -> A'A' (Belle, PRL 114, 211801)",
    skim="lowmult",
    experiments=("Belle",),
    processor_class=DarkHiggsstrahlungProcessor,
    statistical_model=STATISTICAL_MODELS,
)
