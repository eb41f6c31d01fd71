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
from belleflow.cuts import Cuts
from belleflow.limits.model import CouplingReference, Resolution, StatModel
from belleflow.processor import Channel
from belleflow.spec import EventView, Histogram, Result, resolution_edges
from belleflow.theory.dark_higgsstrahlung import (
    AP_MASS_RANGE,
    AP_MASSES,
    HP_MASS_RANGE,
    higgsstrahlung_cross_section_fb,
    model_name,
    visible_fraction,
)

__all__ = [
    "AP_RESOLUTION",
    "CONSISTENCY_NSIGMA",
    "ap_resolution",
    "channel",
    "hp_resolution",
    "preselect",
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

#: The legs of the 6 x 3 pairs of the six ways to pair three positive tracks with three negative ones.
_POSITIVE = [0, 1, 2] * 6
_NEGATIVE = [j for perm in itertools.permutations(range(3)) for j in perm]
#: The three h' candidates: two of the three A' candidates.
_H_PAIRS = ((0, 1), (0, 2), (1, 2))


def ap_resolution(m: Any) -> Any:
    """sigma of one pair mass (GeV); the average of three is ``/sqrt(3)``."""
    return AP_RESOLUTION[0] + AP_RESOLUTION[1] * m


def hp_resolution(m: Any) -> Any:
    """sigma of the h' (four-track) mass (GeV)."""
    return HP_RESOLUTION[0] + HP_RESOLUTION[1] * m


def _average_resolution(m: Any) -> Any:
    return ap_resolution(m) / np.sqrt(3.0)


def _tag(ap_mass: float) -> str:
    return f"m_hp_ap{ap_mass:g}".replace(".", "p")


def _flavour(tracks: Any) -> Any:
    """0 electron, 1 muon, 2 pion (electron ID first: it is the purer)."""
    return ak.where(tracks.electronID > 0.5, 0, ak.where(tracks.muonID > 0.5, 1, 2))


def preselect(ev: EventView, cuts: Cuts) -> None:
    """Six good tracks, zero net charge."""
    good = selection.good_tracks(ev.Track)
    cuts.require("six_tracks", ak.num(good) == 6)
    cuts.require("zero_charge", selection.net_charge(good) == 0)


def select(ev: EventView, cuts: Cuts) -> Result | None:
    """Full reconstruction, then the pairing into three same-flavour pairs of equal mass."""
    good = selection.good_tracks(ev.Track)
    flavour = _flavour(good)
    masses = (kinematics.mass("e-"), kinematics.mass("mu-"), kinematics.mass("pi-"))
    p4 = kinematics.with_mass(
        good, ak.where(flavour == 0, masses[0], ak.where(flavour == 1, *masses[1:]))
    )
    beam, her = ev.cm_frame
    total = selection.sum_p4(p4)
    roots = kinematics.invariant_mass(beam)
    fraction = kinematics.to_cm(total, beam, her).E / roots
    missing = kinematics.p_cm(total, beam) / roots
    cuts.require(
        "full_reconstruction",
        (fraction > ENERGY_FRACTION_MIN) & (fraction < 1.0 + MAX_MISSING_P_FRACTION)
        & (missing < MAX_MISSING_P_FRACTION),
    )  # fmt: skip
    at = cuts.event
    if not at.any():  # no event left to pair: nothing to fill
        for step in ("same_flavour_pairs", "equal_masses"):
            cuts.require(step, np.zeros(len(ev), dtype=bool))
        return None
    # The six pairings of the three positive tracks (columns) with the negative ones.
    pos, neg = good.charge[at] > 0, good.charge[at] < 0
    pairs = p4[at][pos][:, _POSITIVE] + p4[at][neg][:, _NEGATIVE]  # events x 18
    same = ak.to_numpy(flavour[at][pos][:, _POSITIVE] == flavour[at][neg][:, _NEGATIVE])
    m = ak.to_numpy(pairs.mass).reshape(-1, 6, 3)
    average = (m[..., 0] + m[..., 1] + m[..., 2]) / 3.0
    spread = np.max(abs(m - average[..., None]) / ap_resolution(average)[..., None], axis=-1)
    n_pion = ak.to_numpy(ak.sum(flavour[at][pos] == 2, axis=1))
    ok = same.reshape(-1, 6, 3).all(axis=-1) & (n_pion <= MAX_PION_PAIRS)[:, None]
    spread = np.where(ok, spread, np.inf)
    best = np.argmin(spread, axis=1)  # the first of equal spreads
    rows = np.arange(len(best))
    cuts.require("same_flavour_pairs", ok.any(axis=1), at=at)
    cuts.require("equal_masses", spread[rows, best] < CONSISTENCY_NSIGMA, at=at)
    chosen = pairs[rows[:, None], 3 * best[:, None] + np.arange(3)]  # events x 3
    m_ap = (m[rows, best, 0] + m[rows, best, 1] + m[rows, best, 2]) / 3.0
    m_hp = ak.from_regular(
        ak.concatenate([(chosen[:, i] + chosen[:, j]).mass[:, None] for i, j in _H_PAIRS], axis=1)
    )
    # One m_h' spectrum per A' grid mass: the candidates inside its A' window.
    m_ap3 = ak.broadcast_arrays(m_ap, m_hp)[0]
    windows = {
        _tag(m): m_hp[abs(m_ap3 - m) < AP_WINDOW_NSIGMA * _average_resolution(m)] for m in AP_MASSES
    }
    tracks = good[at]
    leptons = (tracks.electronID > 0.5) | (tracks.muonID > 0.5)
    return Result(
        events={"m_Ap": m_ap, "m_hp": m_hp, **windows, "tracks": tracks, "leptons": leptons},
        at=at,
    )


#: Fine 1D bins (a third of the resolution) and coarse 2D bins (about 4 %).
AP_BINS = resolution_edges(_average_resolution, *AP_MASS_RANGE, 3.0)
HP_BINS = resolution_edges(hp_resolution, *HP_MASS_RANGE, 3.0)
PLANE_AP_BINS = np.geomspace(*AP_MASS_RANGE, 91)
PLANE_HP_BINS = np.geomspace(*HP_MASS_RANGE, 101)


def _ap_axis() -> hist.axis.Variable:
    return hist.axis.Variable(AP_BINS, name="m_Ap", label=r"$m_{A'}$ [GeV]")


def _hp_axis(label: str = r"$m_{h'}$ [GeV]") -> hist.axis.Variable:
    return hist.axis.Variable(HP_BINS, name="m_hp", label=label)


def _statistical_model(ap_mass: float) -> StatModel:
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
    )


channel = Channel(
    name="dark_higgsstrahlung",
    description="Dark Higgsstrahlung e+e- -> A' h', h' -> A'A' (Belle, PRL 114, 211801)",
    skim="lowmult",
    experiments=("Belle",),
    preselect=preselect,
    select=select,
    histograms=(
        Histogram("m_Ap", (_ap_axis(),)),
        Histogram("m_hp", (_hp_axis(),)),
        Histogram(
            "mass_plane",
            (
                hist.axis.Variable(PLANE_AP_BINS, name="m_Ap", label=r"$m_{A'}$ [GeV]"),
                hist.axis.Variable(PLANE_HP_BINS, name="m_hp", label=r"$m_{h'}$ [GeV]"),
            ),
        ),
        *(
            Histogram(
                _tag(m),
                (_hp_axis(rf"$m_{{h'}}$, $m_{{A'}}$ = {m:g} GeV"),),
                columns={"m_hp": _tag(m)},
            )
            for m in AP_MASSES
        ),
    ),
    systematics=(
        systematics.pid("tracks", identified="leptons"),
        systematics.tracking("tracks"),
        systematics.MOMENTUM_SCALE,
    ),
    blind={"m_Ap": (AP_MASS_RANGE,), "m_hp": (HP_MASS_RANGE,)},
    # One statistical model per A' grid mass (1D scan in m_h' inside the A'
    # window); the limit backend is one-dimensional (see the docs).
    statistical_model={model_name(m): _statistical_model(m) for m in AP_MASSES},
)
