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
from belleflow.generation.signal_models.alp_photon import MASS_RANGE, alp_cross_section_fb
from belleflow.limits.model import CouplingReference, Resolution, StatModel, Systematic
from belleflow.naming import NOMINAL, variation_name
from belleflow.processor import Channel, ChannelProcessor, ChunkContext

__all__ = [
    "MASS_BINS",
    "MAX_MISSING_P_FRACTION",
    "MIN_PHOTON_E_CM",
    "PHOTON_EFFICIENCY",
    "SWITCH_MASS",
    "GammaAlpProcessor",
    "channel",
    "mass_resolution",
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
RESOLUTION_TABLE = (
    (0.2, 0.0180), (0.3, 0.0201), (0.45, 0.0207), (0.65, 0.0212), (0.8, 0.0244), (1.2, 0.0287),
    (1.5, 0.0321), (2.0, 0.0376), (3.0, 0.0486), (4.0, 0.0645), (5.0, 0.0741), (6.0, 0.0890),
    (6.5, 0.1153), (6.99, 0.1200), (7.01, 0.1000), (7.5, 0.0852), (8.0, 0.0706), (9.0, 0.0365),
    (9.7, 0.0262),
)  # fmt: skip


def mass_resolution(m: float) -> float:
    """Resolution (GeV) of ``m_alp`` at ALP mass ``m``: :data:`RESOLUTION_TABLE` interpolated."""
    masses, sigmas = zip(*RESOLUTION_TABLE, strict=True)
    return float(np.interp(m, masses, sigmas))


def _edges(low: float = 0.1, high: float = 10.5, per_sigma: float = 4.0) -> np.ndarray:
    """Bin edges of width resolution/``per_sigma`` (so every bin is <= resolution/3)."""
    edges = [low]
    while edges[-1] < high:
        edges.append(edges[-1] + mass_resolution(edges[-1]) / per_sigma)
    return np.array(edges)


#: Search-observable bins, a quarter of the resolution wide.
MASS_BINS = _edges()


def _axis(name: str, label: str) -> hist.axis.Variable:
    return hist.axis.Variable(MASS_BINS, name=name, label=label)


def select(events: Any, photons: Any, chunk: ChunkContext | None = None) -> tuple[Any, Any]:
    """Three-photon selection; returns (event mask, three CM-ordered photons of each event).

    With ``chunk`` the cuts are recorded in its cutflow; without (systematic
    shifts) the same cuts are applied silently.
    """

    def cut(name: str, mask: Any) -> Any:
        return chunk.cut(name, mask) if chunk is not None else mask

    beam, her = selection.cm_frame(events)
    e_cm = kinematics.to_cm(photons, beam, her).E
    energetic = photons[e_cm > MIN_PHOTON_E_CM]
    theta = np.degrees(np.arctan2(np.hypot(energetic.px, energetic.py), energetic.pz))
    lo, hi = THETA_ACCEPTANCE_DEG
    mask = cut("no_tracks", ak.num(events.Track) == 0)
    mask = mask & cut("three_photons", ak.num(energetic) == 3)
    mask = mask & cut("acceptance", ak.all((theta > lo) & (theta < hi), axis=-1))
    mask = mask & cut("shower_shape", ak.all(energetic.clusterE9E21 > MIN_E9E21, axis=-1))
    total = selection.sum_p4(energetic)
    roots = kinematics.invariant_mass(beam)
    fraction = kinematics.to_cm(total, beam, her).E / roots
    low, high = ENERGY_FRACTION_WINDOW
    mask = mask & cut("energy_balance", (fraction > low) & (fraction < high))
    missing = kinematics.p_cm(total, beam) / roots
    mask = mask & cut("momentum_balance", missing < MAX_MISSING_P_FRACTION)
    return np.asarray(mask), energetic


def candidates(events: Any, photons: Any) -> dict[str, Any]:
    """Per event (3 photons), the three candidates: diphoton, recoil and search masses."""
    beam, _ = selection.cm_frame(events)
    g = [photons[:, i] for i in range(3)]
    pairs = [(g[1] + g[2], g[0]), (g[0] + g[2], g[1]), (g[0] + g[1], g[2])]
    m_gg = ak.from_regular(ak.concatenate([p.mass[:, None] for p, _ in pairs], axis=1))
    m_rec = ak.from_regular(
        ak.concatenate([kinematics.recoil_mass(third, beam)[:, None] for _, third in pairs], axis=1)
    )
    keep = selection.resonance_veto(m_gg, PEAKING, resolution=mass_resolution)
    m_alp = ak.where(m_gg < SWITCH_MASS, m_gg, m_rec)
    return {"m_gg": m_gg[keep], "m_recoil": m_rec[keep], "m_alp": m_alp[keep]}


class GammaAlpProcessor(ChannelProcessor):
    """e+e- -> gamma a, a -> gamma gamma: three-photon mass spectra."""

    histograms = {  # noqa: RUF012 - class-level declaration
        "m_alp": (_axis("m_alp", r"$m_{a}$ candidate [GeV]"),),
        "m_gg": (_axis("m_gg", r"$m_{\gamma\gamma}$ [GeV]"),),
        "m_recoil": (_axis("m_recoil", r"$m_{\rm recoil}(\gamma)$ [GeV]"),),
    }
    signal_windows = dict.fromkeys(("m_alp", "m_gg", "m_recoil"), (MASS_RANGE,))

    def _fill(self, chunk: ChunkContext, mask: Any, cands: dict[str, Any], variation: str,
              weight: Any = None) -> None:  # fmt: skip
        for name, values in cands.items():
            chunk.fill(name, mask=mask, variation=variation, weight=weight, **{name: values})

    def process_chunk(self, events: Any, chunk: ChunkContext) -> None:
        """Select, build the candidates, fill nominal and systematic variations."""
        photons = events.Photon
        mask, energetic = select(events, photons, chunk)
        cands = candidates(events[mask], energetic[mask])
        self._fill(chunk, mask, cands, NOMINAL)
        for direction, sign in (("up", 1.0), ("down", -1.0)):
            weight = np.full(int(mask.sum()), (1.0 + sign * PHOTON_EFFICIENCY) ** 3)
            self._fill(chunk, mask, cands, variation_name("photon_efficiency", direction), weight)
        if chunk.kind == "data":
            return
        for variation, _, shifted in systematics.shift_variations(photons=photons):
            s_mask, s_photons = select(events, shifted)
            self._fill(chunk, s_mask, candidates(events[s_mask], s_photons[s_mask]), variation)


_RESOLUTION_MASSES = tuple(m for m, _ in RESOLUTION_TABLE)

STATISTICAL_MODEL = StatModel(
    channel="gamma_alp",
    observable="m_alp",
    mass_range=MASS_RANGE,
    vetoed=list(selection.resonance_windows(PEAKING, resolution=mass_resolution).values()),
    scan_step=1.0,
    resolution=Resolution(table=list(RESOLUTION_TABLE)),
    signal_model="alp_photon",
    window=2.0,
    # The POI is sigma x B in fb; the backend converts it to g_agg (GeV^-1)
    # with the tree-level cross section at g_agg = 1e-3 GeV^-1.
    units="coupling:g_agg",
    coupling=CouplingReference(
        coupling=1e-3,
        power=2.0,
        masses=list(_RESOLUTION_MASSES),
        reference=[alp_cross_section_fb(m, 1e-3) for m in _RESOLUTION_MASSES],
    ),
    cl=0.95,
    systematics=[
        Systematic(name="photon_energy_scale"),
        Systematic(name="photon_efficiency"),
    ],
)


channel = Channel(
    name="gamma_alp",
    description="ALP in e+e- -> gamma a, a -> gamma gamma (Belle II, PRL 125, 161806)",
    skim="photons",
    experiments=("Belle II",),
    processor_class=GammaAlpProcessor,
    statistical_model=STATISTICAL_MODEL,
)
