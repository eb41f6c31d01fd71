"""mu+mu- resonance in e+e- -> mu+mu- mu+mu- (Belle II, PRD 109, 112015 (2024)).

Search for e+e- -> mu+mu- X, X -> mu+mu- (X: the Z' of L_mu - L_tau or the
muonphilic scalar S) as a narrow peak in the mass of every opposite-charge
dimuon combination of fully reconstructed four-muon events
(arXiv:2403.02841, 178 fb^-1, 0.212-9.0 GeV, 90 % CL). Selection, departures
from the paper and measured performance: ``docs/channels/four_muon.md``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import awkward as ak
import hist
import numpy as np

from belleflow import resources, selection, systematics
from belleflow.kinematics import to_cm
from belleflow.limits.model import Resolution, StatModel
from belleflow.processor import Channel, ChannelProcessor
from belleflow.training.evaluate import shipped_classifier
from belleflow.training.trainer import TrainingSpec

__all__ = [
    "FEATURES",
    "HIST_RANGE",
    "MASS_RANGE",
    "RESOLUTION",
    "VETOES",
    "Candidates",
    "FourMuonProcessor",
    "build_candidates",
    "channel",
    "features",
    "mass_edges",
    "preselection",
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
#: The trained classifier shipped with the channel (``belleflow train four_muon``).
MODEL = resources.model_path("four_muon", 1)
#: Pairings of the 2 positive (p) and 2 negative (n) muons: candidate legs, recoil legs.
_PAIRINGS = ((0, 0, 1, 1), (0, 1, 1, 0), (1, 0, 0, 1), (1, 1, 0, 0))


def mass_edges(
    low: float = HIST_RANGE[0], high: float = HIST_RANGE[1], per_sigma: int = 3
) -> np.ndarray[Any, Any]:
    """Bin edges of the dimuon mass: bin width sigma(m)/per_sigma across the range."""
    edges = [low]
    while edges[-1] < high:
        edges.append(edges[-1] + RESOLUTION(edges[-1]) / per_sigma)
    return np.asarray(edges)


class Candidates:
    """Preselected events and their four dimuon candidates (one selection pass).

    Attributes:
        masks: Cut name -> chunk-long per-event mask (cumulative is up to the caller).
        index: Chunk positions of the events surviving the event preselection.
        m_mumu: Candidate dimuon masses (events x 4).
        columns: Feature name -> candidate values (events x 4).
        keep: Candidate mask after vetoes and the mass range (events x 4).
        legs: The four candidate tracks for the systematics, (events x 4) of
            Track records ordered (p0, p1, n0, n1).
    """

    def __init__(
        self, events: Any, tracks: Any, photons: Any, index: np.ndarray[Any, Any] | None = None
    ) -> None:
        # With ``index`` the tracks and photons are those of the events at these
        # chunk positions (those passing :func:`preselection`).
        good = selection.good_tracks(tracks)
        beam, her = selection.cm_frame(events)
        if index is not None:
            beam = beam[index]
        ecms = np.sqrt(beam.E**2 - beam.px**2 - beam.py**2 - beam.pz**2)
        legs_mu = selection.with_hypothesis(good, 13)
        m4 = selection.sum_p4(legs_mu).mass
        e_extra = selection.extra_energy(
            photons, threshold=CUTS["photon_threshold"], beam=beam, her_direction=her
        )
        self.masks = {
            **_shift_independent(good),
            "four_track_mass": (m4 > ecms - CUTS["m4_low"]) & (m4 < ecms + CUTS["m4_high"]),
            "no_extra_energy": e_extra < CUTS["extra_energy"],
        }
        presel = np.ones(len(good), dtype=bool)
        for mask in self.masks.values():
            presel &= ak.to_numpy(ak.fill_none(mask, False)).astype(bool)
        self.index = np.flatnonzero(presel) if index is None else index[presel]
        sel = good[presel]
        order = ak.argsort(sel.charge, axis=1, ascending=False)  # p0, p1, n0, n1
        self.legs = sel[order]
        p4 = to_cm(selection.with_hypothesis(self.legs, 13), beam[presel], her)
        self.m_mumu, self.columns = _candidate_columns(p4)
        windows = selection.resonance_windows(VETOES, resolution=RESOLUTION, n_sigma=VETO_SIGMAS)
        keep = selection.in_window(self.m_mumu, *HIST_RANGE)
        for low, high in windows.values():
            keep = keep & ~selection.in_window(self.m_mumu, low, high)
        self.keep = keep


def _shift_independent(good: Any) -> dict[str, Any]:
    """The cuts that neither momentum nor photon-energy shifts change (per event)."""
    muon = selection.identified(good, "muonID", CUTS["muon_id"])
    return {
        "four_tracks": ak.num(good) == 4,
        "zero_charge": selection.net_charge(good) == 0,
        "three_muons": selection.count(muon) >= CUTS["min_muons"],
        # e+e- -> e+e-mu+mu- (51000 x the four-muon cross section) with one
        # electron taken for a muon: the other electron is identified.
        "no_electron": selection.count(
            selection.identified(good, "electronID", CUTS["electron_id"])
        )
        == 0,
    }


def preselection(tracks: Any) -> dict[str, Any]:
    """Chunk-long masks of the shift-independent cuts (the first four of the cutflow)."""
    return _shift_independent(selection.good_tracks(tracks))


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


def build_candidates(events: Any, tracks: Any = None, photons: Any = None) -> Candidates:
    """Run the selection on ``events`` (optionally with shifted tracks or photons)."""
    return Candidates(
        events,
        events.Track if tracks is None else tracks,
        events.Photon if photons is None else photons,
    )


def features(
    events: Any,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Classifier inputs of the candidates of preselected events, for ``belleflow train``.

    Returns:
        ``(X, m_mumu, truth)``: features (candidates x FEATURES), candidate
        mass, and whether both legs come from the generated dark boson.
    """
    cands = build_candidates(events)
    keep = ak.to_numpy(ak.flatten(cands.keep))
    x = np.stack([ak.to_numpy(ak.flatten(cands.columns[f])) for f in FEATURES], axis=1)
    m = ak.to_numpy(ak.flatten(cands.m_mumu))
    truth = np.zeros(len(m), dtype=bool)
    if len(cands.index) and "MCParticle" in events.fields:
        parent = cands.legs.mc.parent.PDG
        dark = ak.to_numpy(ak.fill_none(parent >= 9000000, False)).reshape(-1, 4)
        truth = np.stack([dark[:, pa] & dark[:, 2 + na] for pa, na, _, _ in _PAIRINGS], axis=1)
        truth = truth.reshape(-1)
    return x[keep], m[keep], truth[keep]


class FourMuonProcessor(ChannelProcessor):
    """Four-muon selection, all dimuon pairings, classifier, systematics."""

    histograms: ClassVar[dict[str, Any]] = {
        "m_mumu": (hist.axis.Variable(mass_edges(), name="m_mumu", label="m(mu+mu-) [GeV]"),),
    }
    #: The whole search range stays blind in data until unblinding.
    signal_windows: ClassVar[dict[str, Any]] = {"m_mumu": (MASS_RANGE,)}

    def __init__(self, model: str | None = str(MODEL)) -> None:
        self.model = model

    def _score_cut(self, cands: Candidates) -> Any:
        if not self.model:  # training: the selection without its classifier
            return cands.keep
        clf = shipped_classifier(self.model, "four_muon")
        x = np.stack([ak.to_numpy(cands.columns[f]).reshape(-1) for f in clf.features], axis=1)
        score = clf.predict(x).reshape(-1, 4) if len(x) else np.zeros((0, 4))
        return cands.keep & ak.Array(score >= clf.threshold)

    def process_chunk(self, events: Any, chunk: Any) -> None:
        """Select four-muon events and fill every surviving dimuon pairing."""
        # The expensive part (CM boosts of all photons, candidates, shifts)
        # runs only on the events passing the shift-independent cuts.
        for name, mask in preselection(events.Track).items():
            chunk.cut(name, mask)
        index = np.flatnonzero(chunk.cutflow.selection)
        tracks, photons = events.Track[index], events.Photon[index]
        cands = Candidates(events, tracks, photons, index)
        for name in ("four_track_mass", "no_extra_energy"):
            chunk.cut(name, selection.scatter(cands.masks[name], index, chunk.n_events))
        passed = self._score_cut(cands)
        has = np.zeros(chunk.n_events, dtype=bool)
        has[cands.index] = ak.to_numpy(ak.any(passed, axis=1))
        chunk.cut("candidate", has)
        muons = selection.identified(cands.legs, "muonID", CUTS["muon_id"])
        weights = systematics.weight_variations(
            pid=cands.legs, pid_identified=muons, tracking=np.full(len(cands.index), 4)
        )
        systematics.fill_variations(
            chunk,
            "m_mumu",
            {k: _to_chunk(v, cands.index, chunk.n_events, 1.0) for k, v in weights.items()},
            m_mumu=_to_chunk(cands.m_mumu[passed], cands.index, chunk.n_events),
        )
        # Momentum and photon-energy scales move events across the cuts: rerun the selection.
        for variation, s_tracks, s_photons in systematics.shift_variations(tracks, photons):
            shifted = Candidates(events, s_tracks, s_photons, index)
            values = shifted.m_mumu[self._score_cut(shifted)]
            chunk.fill(
                "m_mumu",
                variation=variation,
                m_mumu=_to_chunk(values, shifted.index, chunk.n_events),
            )


def _to_chunk(values: Any, index: np.ndarray[Any, Any], n: int, default: float = 0.0) -> Any:
    """Values of the preselected events (flat or jagged) spread over the whole chunk.

    Jagged values get empty lists for the other events, flat ones ``default``.
    """
    array = ak.Array(values) if not isinstance(values, ak.Array) else values
    if array.ndim == 1:
        full = np.full(n, default, dtype=np.float64)
        full[index] = ak.to_numpy(array)
        return full
    counts = np.zeros(n, dtype=np.int64)
    counts[index] = ak.to_numpy(ak.num(array, axis=1))
    return ak.unflatten(ak.flatten(array, axis=1), counts)


#: What ``belleflow train four_muon`` trains on: the Z' and S grids of the
#: catalogue at a subset of masses, the main backgrounds of the skim.
TRAINING = TrainingSpec(
    version=1,
    signal_masses=(0.212, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0),
    backgrounds=("mumumumu", "eemumu", "mumutautau", "tautau", "mumu"),
    signal_events=1500,
    background_events=40000,
    signal_efficiency=0.8,
)


def _stat_model(signal_model: str) -> StatModel:
    return StatModel(
        channel="four_muon",
        observable="m_mumu",
        mass_range=MASS_RANGE,
        vetoed=list(
            selection.resonance_windows(VETOES, resolution=RESOLUTION, n_sigma=VETO_SIGMAS).values()
        ),
        scan_step=1.0,
        resolution=RESOLUTION,
        signal_model=signal_model,
        window=2.0,
        units="sigma_B_fb",
        cl=0.9,
        systematics=["pid", "tracking", "momentum_scale", "photon_energy_scale"],
        lumi_uncertainty=0.01,
    )


#: One statistical model per signal model (the paper limits both); the
#: channel hands the Z' one by default.
STAT_MODELS = {model: _stat_model(model) for model in ("zprime_lmu_ltau", "muonphilic_scalar")}

channel = Channel(
    name="four_muon",
    description="mu+mu- resonance in e+e- -> mu+mu-mu+mu- (Belle II PRD 109, 112015)",
    skim="lowmult",
    experiments=("Belle II",),
    processor_class=FourMuonProcessor,
    statistical_model=STAT_MODELS,
)
