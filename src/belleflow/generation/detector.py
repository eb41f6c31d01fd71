"""Fast parametric detector simulation: generator-level truth -> ntuple content.

:func:`simulate` turns a :class:`~belleflow.generation.truth.TruthEvents` into
the event content of a belleflow ntuple (``belleflow.ntuple.format``): event
branches and the ``Track``, ``Photon``, ``V0`` and (for simulation)
``MCParticle`` collections. Everything is vectorised over the flattened
particles of a whole batch; there is no loop over events.

The model, in the order it is applied (figures in :class:`DetectorParameters`,
with their sources; ``docs/generation.md`` explains the choices):

1. *Material interactions*: final-state photons inside the tracking acceptance
   convert to e+e- in the beam pipe and silicon layers with a fixed
   probability. The pair is appended to the event's MC record with the photon
   as mother, so the photon is no longer final state (as in Geant4 truth).
2. *Tracks* from final-state e, mu, pi, K, p: acceptance in lab theta and pT,
   an efficiency falling with the transverse production radius, momentum
   smearing ``sigma(pT)/pT = a pT (+) b / beta`` (scaling the whole momentum,
   so the direction is kept), impact parameters of a *straight line* from the
   true production vertex (the POCA to the z axis; a helix differs by
   ``O(r^2 / R)`` which is below the resolution for the prompt tracks that
   matter, and we say so), ``nCDCHits`` from the radial path in the CDC,
   ``clusterE`` by species, and PID likelihood ratios (see :func:`draw_pid`).
3. *Photons*: ECL acceptance with its gaps, energy resolution
   ``a/sqrt(E) (+) b (+) c/E``, angular resolution, shower shape
   ``clusterE9E21``, energetic pi0 whose photons are closer than the crystal
   granularity merge into one cluster, K_L and neutrons leave a hadronic
   cluster part of the time, and beam-background photons are added.
4. *V0s*: pairs of reconstructed opposite-charge tracks from the same
   displaced true vertex, with an efficiency falling with transverse distance,
   plus a small rate of fake vertices from random prompt pairs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from belleflow.generation.truth import MC_FIELDS, TruthEvents
from belleflow.ntuple.format import COLLECTIONS

__all__ = [
    "BELLE2_DETECTOR",
    "BELLE_DETECTOR",
    "DETECTORS",
    "PID_SPECIES",
    "PID_VARIABLES",
    "DetectorParameters",
    "detector_for",
    "draw_pid",
    "ecl_energy_resolution",
    "pt_resolution",
    "simulate",
    "tracking_efficiency",
    "v0_efficiency",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: PDG codes (absolute) of the charged particles that make tracks, in PID order.
PID_SPECIES: tuple[int, ...] = (11, 13, 211, 321, 2212)
#: The PID variables, in the order of :data:`PID_SPECIES`.
PID_VARIABLES: tuple[str, ...] = ("electronID", "muonID", "pionID", "kaonID", "protonID")

# Rows: true species (e, mu, pi, K, p); columns: the hypothesis whose
# likelihood ratio leads (e, mu, pi, K, p). With the leading value drawn from
# 0.5 + 0.5 Beta(30, 1) (above 0.9 in 99.9 % of cases, always above 0.6),
# P(ID > cut) = P(lead) to 0.1 %, so the diagonal is the efficiency and the
# off-diagonal the mis-ID rate (physics.md, p > 1 GeV: muon 90 %, pi->mu
# 2-5 %; electron 95 %, pi->e < 1 %; kaon 85 %, pi->K 5-10 %).
_PID_HIGH_P: tuple[tuple[float, ...], ...] = (
    (0.951, 0.004, 0.035, 0.005, 0.005),  # e
    (0.002, 0.901, 0.085, 0.008, 0.004),  # mu
    (0.005, 0.035, 0.880, 0.070, 0.010),  # pi
    (0.003, 0.005, 0.120, 0.852, 0.020),  # K
    (0.003, 0.003, 0.040, 0.050, 0.904),  # p
)
# Below 1 GeV (ESTIMATE): muons below ~0.7 GeV do not reach the KLM and
# electron/pion separation relies on dE/dx, so lepton ID degrades; pi/K
# separation from dE/dx and TOP stays comparable.
_PID_LOW_P: tuple[tuple[float, ...], ...] = (
    (0.880, 0.010, 0.090, 0.010, 0.010),  # e
    (0.010, 0.700, 0.270, 0.010, 0.010),  # mu
    (0.020, 0.080, 0.810, 0.080, 0.010),  # pi
    (0.010, 0.010, 0.150, 0.800, 0.030),  # K
    (0.010, 0.010, 0.050, 0.080, 0.850),  # p
)


@dataclass(frozen=True)
class DetectorParameters:
    """Figures of the parametric detector model for one experiment.

    Lengths in cm, energies and momenta in GeV, angles in degrees.
    Sources: physics.md (project reference) unless a field says ESTIMATE.

    Attributes:
        name: ``Belle II`` or ``Belle``.
        track_theta_min: Tracking acceptance lower edge (CDC, physics.md: 17 deg).
        track_theta_max: Tracking acceptance upper edge (CDC, physics.md: 150 deg).
        track_pt_min: Transverse-momentum threshold of track finding
            (ESTIMATE: 0.075 GeV, in the 0.05-0.1 GeV range tracks start to be found).
        track_efficiency: Efficiency of prompt tracks in acceptance (ESTIMATE, 0.98).
        track_flat_radius: Production radius up to which tracking stays fully
            efficient (ESTIMATE: Belle II 20 cm, just outside the SVD at 13.5 cm;
            Belle 15 cm).
        cdc_inner_radius: CDC inner radius (physics.md: Belle II 16 cm, Belle 8.3 cm).
        cdc_outer_radius: CDC outer radius; no track is found from beyond it,
            and the efficiency falls linearly to zero there
            (physics.md: Belle II 113 cm, Belle 88 cm).
        cdc_z_min: Backward CDC end (ESTIMATE from the CDC length, Belle II -83 cm).
        cdc_z_max: Forward CDC end (ESTIMATE, Belle II +159 cm).
        cdc_layers: Number of CDC sense-wire layers (Belle II 56, Belle 50).
        cdc_hit_efficiency: Probability that a crossed layer gives a hit (ESTIMATE).
        vxd_outer_radius: Outer radius of the silicon detector; tracks produced
            beyond have no silicon hits and degraded impact parameters
            (Belle II SVD 13.5 cm, Belle SVD2 8.8 cm).
        field_tesla: Solenoid field (1.5 T for both).
        pt_res_a: ``a`` of ``sigma(pT)/pT = a pT (+) b / beta`` (physics.md: 0.1 %/GeV).
        pt_res_b: ``b`` of the same (physics.md: 0.3 %).
        d0_res_a: Constant term of the transverse impact-parameter resolution,
            ``a (+) b / (p beta sin^1.5 theta)`` (ESTIMATE: Belle II 12 um, Belle 20 um).
        d0_res_b: Multiple-scattering term, GeV cm (ESTIMATE: Belle II 20 um, Belle 30 um).
        z0_res_a: Constant term of the longitudinal resolution (ESTIMATE).
        z0_res_b: Multiple-scattering term of the longitudinal resolution (ESTIMATE).
        cdc_only_ip_factor: Impact-parameter resolution multiplier for tracks
            without silicon hits (ESTIMATE: 25, i.e. about 0.3-0.5 mm).
        pid_split_momentum: Momentum above which the high-momentum PID
            performance holds (physics.md: 1 GeV).
        pid_high_p: Leading-hypothesis probabilities above ``pid_split_momentum``.
        pid_low_p: The same below.
        pid_lead_shape: ``a`` of the Beta(a, 1) shape of the leading likelihood ratio.
        ecl_forward: Forward ECL endcap, lab theta range (physics.md: 12.4-31.4 deg).
        ecl_barrel: ECL barrel (physics.md: 32.2-128.7 deg).
        ecl_backward: Backward ECL endcap (physics.md: 130.7-155.1 deg).
        ecl_inner_radius: ECL inner radius; neutrals produced beyond leave no
            cluster, charged tracks need ``2 R > ecl_inner_radius`` to reach it.
        ecl_res_a: Stochastic term of ``sigma/E``, GeV^0.5; fitted so that
            sigma/E is 7.7 % at 0.1 GeV, 2.25 % at 1 GeV, 1.7 % at 5 GeV
            (physics.md): solving the three equations in (a^2, b^2, c^2)
            gives a = 1.52 %, b = 1.55 %, c = 0.581 % GeV.
        ecl_res_b: Constant term of ``sigma/E``.
        ecl_res_c: Noise term of ``sigma/E``, GeV.
        ecl_angle_a: Constant term of the cluster angular resolution, rad (ESTIMATE).
        ecl_angle_b: ``1/sqrt(E)`` term of the angular resolution, rad GeV^0.5 (ESTIMATE).
        photon_threshold: Minimum cluster energy (ESTIMATE, 20 MeV).
        pi0_merge_angle: Opening angle below which the two photons of a pi0
            make one cluster (ESTIMATE: one 5-6 cm crystal at 1.25-2 m, 40 mrad,
            reached for pi0 above about 3.5 GeV).
        neutral_hadron_cluster_probability: Chance that a K_L or neutron leaves
            an ECL cluster (ESTIMATE; the ECL is 0.8 interaction lengths).
        conversion_probability: Probability that a photon in the tracking
            acceptance converts before the CDC (ESTIMATE: beam pipe and silicon
            are about 2 % X0 at normal incidence, 7/9 x 2 % = 1.5 %).
        conversion_radii: Radii of the conversion material (beam pipe, silicon layers).
        conversion_weights: Relative conversion probabilities at those radii.
        beam_photon_mean: Mean number of beam-background clusters per event
            above threshold (ESTIMATE: a few at Belle II's present luminosity).
        beam_photon_slope: Slope of the exponential energy spectrum above
            ``photon_threshold`` (ESTIMATE: 40 MeV, so 13 % are above 0.1 GeV
            and 1 % above 0.2 GeV).
        beam_photon_regions: Fraction of beam-background clusters in the
            forward endcap, barrel and backward endcap (ESTIMATE: endcaps are
            busier per solid angle).
        v0_min_radius: Minimum transverse distance of a true vertex for a V0
            (ESTIMATE, 0.05 cm: several times the vertex resolution).
        v0_efficiency: Vertex-finding efficiency (given two tracks) at small radius (ESTIMATE).
        v0_flat_radius: Radius up to which the V0 efficiency is flat
            (ESTIMATE: Belle II 15 cm, Belle 10 cm).
        v0_max_radius: Radius where it has fallen linearly to zero
            (ESTIMATE: Belle II 100 cm, Belle 80 cm).
        v0_res_a: Constant term of the vertex resolution per coordinate (ESTIMATE, cm).
        v0_res_b: Growth of the vertex resolution per cm of transverse distance (ESTIMATE).
        fake_v0_rate: Probability per event with a +- track pair of a fake V0 (ESTIMATE).
        fake_v0_scale: Mean transverse distance of fake V0s (ESTIMATE, cm).
    """

    name: str
    track_theta_min: float = 17.0
    track_theta_max: float = 150.0
    track_pt_min: float = 0.075
    track_efficiency: float = 0.98
    track_flat_radius: float = 20.0
    cdc_inner_radius: float = 16.0
    cdc_outer_radius: float = 113.0
    cdc_z_min: float = -83.0
    cdc_z_max: float = 159.0
    cdc_layers: int = 56
    cdc_hit_efficiency: float = 0.95
    vxd_outer_radius: float = 13.5
    field_tesla: float = 1.5
    pt_res_a: float = 0.001
    pt_res_b: float = 0.003
    d0_res_a: float = 0.0012
    d0_res_b: float = 0.0020
    z0_res_a: float = 0.0015
    z0_res_b: float = 0.0025
    cdc_only_ip_factor: float = 25.0
    pid_split_momentum: float = 1.0
    pid_high_p: tuple[tuple[float, ...], ...] = _PID_HIGH_P
    pid_low_p: tuple[tuple[float, ...], ...] = _PID_LOW_P
    pid_lead_shape: float = 30.0
    ecl_forward: tuple[float, float] = (12.4, 31.4)
    ecl_barrel: tuple[float, float] = (32.2, 128.7)
    ecl_backward: tuple[float, float] = (130.7, 155.1)
    ecl_inner_radius: float = 125.0
    ecl_res_a: float = 0.01520
    ecl_res_b: float = 0.01554
    ecl_res_c: float = 0.00581
    ecl_angle_a: float = 0.003
    ecl_angle_b: float = 0.004
    photon_threshold: float = 0.02
    pi0_merge_angle: float = 0.040
    neutral_hadron_cluster_probability: float = 0.5
    conversion_probability: float = 0.015
    conversion_radii: tuple[float, ...] = (1.0, 1.4, 2.2, 3.9, 8.0, 10.4, 13.5)
    conversion_weights: tuple[float, ...] = (0.3, 0.1, 0.1, 0.125, 0.125, 0.125, 0.125)
    beam_photon_mean: float = 3.0
    beam_photon_slope: float = 0.04
    beam_photon_regions: tuple[float, float, float] = (0.4, 0.3, 0.3)
    v0_min_radius: float = 0.05
    v0_efficiency: float = 0.95
    v0_flat_radius: float = 15.0
    v0_max_radius: float = 100.0
    v0_res_a: float = 0.01
    v0_res_b: float = 0.01
    fake_v0_rate: float = 0.03
    fake_v0_scale: float = 1.0

    def __post_init__(self) -> None:
        for label, matrix in (("pid_high_p", self.pid_high_p), ("pid_low_p", self.pid_low_p)):
            rows = np.asarray(matrix, dtype=np.float64)
            if rows.shape != (5, 5) or np.any(rows < 0) or not np.allclose(rows.sum(1), 1.0):
                msg = f"{label} must be a 5x5 matrix of probabilities with rows summing to 1"
                raise ValueError(msg)
        if len(self.conversion_radii) != len(self.conversion_weights):
            msg = "conversion_radii and conversion_weights must have the same length"
            raise ValueError(msg)


#: Belle II at SuperKEKB.
BELLE2_DETECTOR = DetectorParameters(name="Belle II")
#: Belle at KEKB: smaller CDC (8.3-88 cm) and SVD (8.8 cm), 50 CDC layers,
#: higher beam background per event at the end of KEKB is NOT modelled: the
#: same mean as Belle II's present one is an ESTIMATE of the right order.
BELLE_DETECTOR = DetectorParameters(
    name="Belle",
    track_flat_radius=15.0,
    cdc_inner_radius=8.3,
    cdc_outer_radius=88.0,
    cdc_z_min=-77.0,
    cdc_z_max=160.0,
    cdc_layers=50,
    vxd_outer_radius=8.8,
    d0_res_a=0.0020,
    d0_res_b=0.0030,
    z0_res_a=0.0030,
    z0_res_b=0.0040,
    conversion_radii=(1.5, 2.0, 4.35, 7.0, 8.8),
    conversion_weights=(0.35, 0.1, 0.2, 0.2, 0.15),
    beam_photon_mean=2.0,
    v0_flat_radius=10.0,
    v0_max_radius=80.0,
)
#: Detector parameters by experiment name.
DETECTORS: dict[str, DetectorParameters] = {d.name: d for d in (BELLE2_DETECTOR, BELLE_DETECTOR)}


def detector_for(machine: Any) -> DetectorParameters:
    """The detector at a machine's interaction point (by ``machine.experiment``).

    Raises:
        ValueError: For an experiment without detector parameters.
    """
    experiment = getattr(machine, "experiment", machine)
    try:
        return DETECTORS[str(experiment)]
    except KeyError:
        msg = f"no detector parameters for experiment {experiment!r}; known: {sorted(DETECTORS)}"
        raise ValueError(msg) from None


# ----------------------------------------------------------------------------
# Resolution and efficiency functions (public: the tests and docs use them).
# ----------------------------------------------------------------------------


def pt_resolution(pt: npt.ArrayLike, beta: npt.ArrayLike, det: DetectorParameters) -> FloatArray:
    """Relative transverse-momentum resolution ``a pT (+) b / beta``."""
    pt = np.asarray(pt, dtype=np.float64)
    beta = np.asarray(beta, dtype=np.float64)
    return np.asarray(np.hypot(det.pt_res_a * pt, det.pt_res_b / beta), dtype=np.float64)


def ecl_energy_resolution(energy: npt.ArrayLike, det: DetectorParameters) -> FloatArray:
    """Relative ECL energy resolution ``a/sqrt(E) (+) b (+) c/E``.

    Examples:
        >>> [round(float(ecl_energy_resolution(e, BELLE2_DETECTOR)), 4) for e in (0.1, 1, 5)]
        [0.077, 0.0225, 0.017]
    """
    e = np.maximum(np.asarray(energy, dtype=np.float64), 1e-6)
    return np.asarray(
        np.sqrt(det.ecl_res_a**2 / e + det.ecl_res_b**2 + (det.ecl_res_c / e) ** 2),
        dtype=np.float64,
    )


def _radial_falloff(r: FloatArray, plateau: float, flat: float, zero: float) -> FloatArray:
    """``plateau`` up to ``flat``, linear to 0 at ``zero``, 0 beyond."""
    frac = np.clip((zero - r) / (zero - flat), 0.0, 1.0)
    return np.asarray(plateau * frac, dtype=np.float64)


def tracking_efficiency(radius: npt.ArrayLike, det: DetectorParameters) -> FloatArray:
    """Track-finding efficiency vs transverse production radius (in acceptance)."""
    r = np.asarray(radius, dtype=np.float64)
    return _radial_falloff(r, det.track_efficiency, det.track_flat_radius, det.cdc_outer_radius)


def v0_efficiency(radius: npt.ArrayLike, det: DetectorParameters) -> FloatArray:
    """Vertex-finding efficiency vs transverse distance, given both tracks found."""
    r = np.asarray(radius, dtype=np.float64)
    return _radial_falloff(r, det.v0_efficiency, det.v0_flat_radius, det.v0_max_radius)


@functools.cache
def _mass(pdgid: int) -> float:
    from particle import Particle  # noqa: PLC0415 - imported once, lazily

    mass = Particle.from_pdgid(pdgid).mass
    if mass is None:  # pragma: no cover - only called for particles with masses
        msg = f"particle {pdgid} has no mass"
        raise ValueError(msg)
    return float(mass) / 1000.0


def _species_masses() -> FloatArray:
    return np.array([_mass(code) for code in PID_SPECIES])


def draw_pid(
    species: IntArray, p: FloatArray, det: DetectorParameters, rng: np.random.Generator
) -> FloatArray:
    """Draw the five PID likelihood ratios of tracks.

    Each track gets a *leading* hypothesis drawn from the confusion matrix
    of its true species (``det.pid_high_p`` above ``det.pid_split_momentum``,
    ``det.pid_low_p`` below). The leading ratio is ``0.5 + 0.5 Beta(a, 1)``;
    the remaining ``1 - lead`` is shared among the other four by a flat
    Dirichlet. The five values are normalised likelihood ratios (they sum
    to 1), and a cut above 0.5 on one of them passes with the probability of
    that hypothesis leading times ``P(lead > cut)``.

    Args:
        species: Index into :data:`PID_SPECIES` of each track's true species.
        p: Momentum of each track, GeV.
        det: Detector parameters.
        rng: Random generator.

    Returns:
        ``(n, 5)`` array, columns in the order of :data:`PID_VARIABLES`.
    """
    n = len(species)
    high = np.cumsum(np.asarray(det.pid_high_p), axis=1)
    low = np.cumsum(np.asarray(det.pid_low_p), axis=1)
    cumulative = np.where((p > det.pid_split_momentum)[:, None], high[species], low[species])
    u = rng.random(n)
    lead = np.minimum((u[:, None] > cumulative).sum(axis=1), 4)
    # Beta(a, 1) is U^(1/a): much cheaper than a general Beta draw.
    value = 0.5 + 0.5 * rng.random(n) ** (1.0 / det.pid_lead_shape)
    share = rng.standard_exponential((n, 5))  # flat Dirichlet = normalised exponentials
    rows = np.arange(n)
    share[rows, lead] = 0.0
    share *= ((1.0 - value) / share.sum(axis=1))[:, None]
    share[rows, lead] = value
    return share


# ----------------------------------------------------------------------------
# Flat particle table.
# ----------------------------------------------------------------------------


@dataclass
class _Particles:
    """The particles of a batch as flat numpy columns, grouped by event."""

    pdg: IntArray
    mother: IntArray  # local index within the event, -1 for primaries
    px: FloatArray
    py: FloatArray
    pz: FloatArray
    e: FloatArray
    vx: FloatArray
    vy: FloatArray
    vz: FloatArray
    event: IntArray
    offsets: IntArray  # n_events + 1

    @property
    def local(self) -> IntArray:
        return np.asarray(np.arange(len(self.pdg)) - self.offsets[self.event], dtype=np.int64)

    @property
    def mother_global(self) -> IntArray:
        out = self.mother + self.offsets[self.event]
        return np.asarray(np.where(self.mother >= 0, out, -1), dtype=np.int64)

    def final_state(self) -> BoolArray:
        is_mother = np.zeros(len(self.pdg), dtype=np.bool_)
        mothers = self.mother_global
        is_mother[mothers[mothers >= 0]] = True
        return ~is_mother


def _column(array: ak.Array, dtype: type) -> Any:
    return np.asarray(ak.to_numpy(ak.flatten(array, axis=1)), dtype=dtype)


def _flatten(truth: TruthEvents) -> _Particles:
    parts = truth.particles
    counts = np.asarray(ak.to_numpy(ak.num(parts, axis=1)), dtype=np.int64)
    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    cols = {f: _column(parts[f], np.float64) for f in MC_FIELDS if f not in ("PDG", "mother")}
    return _Particles(
        pdg=_column(parts["PDG"], np.int64),
        mother=_column(parts["mother"], np.int64),
        px=cols["px"],
        py=cols["py"],
        pz=cols["pz"],
        e=cols["E"],
        vx=cols["prodVertexX"],
        vy=cols["prodVertexY"],
        vz=cols["prodVertexZ"],
        event=np.repeat(np.arange(len(counts)), counts),
        offsets=offsets,
    )


def _theta_deg(px: FloatArray, py: FloatArray, pz: FloatArray) -> FloatArray:
    return np.asarray(np.degrees(np.arctan2(np.hypot(px, py), pz)), dtype=np.float64)


def _in_ecl(theta: FloatArray, det: DetectorParameters) -> BoolArray:
    out = np.zeros(theta.shape, dtype=np.bool_)
    for lo, hi in (det.ecl_forward, det.ecl_barrel, det.ecl_backward):
        out |= (theta >= lo) & (theta <= hi)
    return out


# ----------------------------------------------------------------------------
# Step 1: photon conversions.
# ----------------------------------------------------------------------------


def _convert_photons(
    parts: _Particles, det: DetectorParameters, rng: np.random.Generator
) -> _Particles:
    final = parts.final_state()
    theta = _theta_deg(parts.px, parts.py, parts.pz)
    candidates = np.flatnonzero(
        final
        & (parts.pdg == 22)
        & (theta > det.track_theta_min)
        & (theta < det.track_theta_max)
        & (parts.e > 0.01)
    )
    converted = candidates[rng.random(len(candidates)) < det.conversion_probability]
    weights = np.asarray(det.conversion_weights) / sum(det.conversion_weights)
    layer = np.searchsorted(np.cumsum(weights)[:-1], rng.random(len(converted)), side="right")
    radius = np.asarray(det.conversion_radii)[layer]
    vx, vy, vz = parts.vx[converted], parts.vy[converted], parts.vz[converted]
    # Photons produced beyond the chosen layer (from displaced decays) do not convert there.
    start = np.hypot(vx, vy)
    keep = start < radius
    converted, radius, vx, vy, vz = converted[keep], radius[keep], vx[keep], vy[keep], vz[keep]
    if len(converted) == 0:
        return parts
    px, py, pz, e = (
        parts.px[converted],
        parts.py[converted],
        parts.pz[converted],
        parts.e[converted],
    )
    p = np.sqrt(px * px + py * py + pz * pz)
    ux, uy, uz = px / p, py / p, pz / p
    # Path length t > 0 along the photon to the cylinder of radius r: |v_T + t u_T| = r.
    a = ux * ux + uy * uy
    b = 2.0 * (vx * ux + vy * uy)
    c = vx * vx + vy * vy - radius * radius
    t = (-b + np.sqrt(b * b - 4.0 * a * c)) / (2.0 * a)
    cx, cy, cz = vx + t * ux, vy + t * uy, vz + t * uz
    # Energy sharing: flat in x, a fair approximation of Bethe-Heitler well above
    # threshold; the pair is taken collinear (opening angle ~ m_e/E, far below
    # the resolution).
    me = _mass(11)
    x = rng.uniform(0.0, 1.0, len(converted))
    e_pos = np.maximum(x * e, 1.001 * me)
    e_neg = np.maximum(e - e_pos, 1.001 * me)
    new_e = np.concatenate([e_pos, e_neg])
    new_p = np.sqrt(new_e * new_e - me * me)
    uxx, uyy, uzz = np.tile(ux, 2), np.tile(uy, 2), np.tile(uz, 2)
    local = parts.local
    new_event = np.tile(parts.event[converted], 2)
    # Append the pairs at the end of their events (np.insert: no sort of the
    # whole table), so the mother indices of the original particles stay valid.
    at = np.tile(parts.offsets[parts.event[converted] + 1], 2)
    added = np.bincount(new_event, minlength=len(parts.offsets) - 1)
    offsets = parts.offsets.copy()
    offsets[1:] += np.cumsum(added)

    def ins(old: Any, new: Any) -> Any:
        return np.insert(old, at, new)

    return _Particles(
        pdg=ins(parts.pdg, np.repeat(np.array([-11, 11]), len(converted))),
        mother=ins(parts.mother, np.tile(local[converted], 2)),
        px=ins(parts.px, new_p * uxx),
        py=ins(parts.py, new_p * uyy),
        pz=ins(parts.pz, new_p * uzz),
        e=ins(parts.e, new_e),
        vx=ins(parts.vx, np.tile(cx, 2)),
        vy=ins(parts.vy, np.tile(cy, 2)),
        vz=ins(parts.vz, np.tile(cz, 2)),
        event=ins(parts.event, new_event),
        offsets=offsets,
    )


# ----------------------------------------------------------------------------
# Step 2: tracks.
# ----------------------------------------------------------------------------


@dataclass
class _Tracks:
    source: IntArray  # global index of the MC particle
    event: IntArray
    charge: IntArray
    px: FloatArray
    py: FloatArray
    pz: FloatArray
    e: FloatArray
    columns: dict[str, Any]


def _species_index(abs_pdg: IntArray) -> IntArray:
    codes = np.asarray(PID_SPECIES)
    order = np.argsort(codes)
    return np.asarray(order[np.searchsorted(codes[order], abs_pdg)], dtype=np.int64)


def _tracks(
    parts: _Particles, final: BoolArray, det: DetectorParameters, rng: np.random.Generator
) -> _Tracks:
    abs_pdg = np.abs(parts.pdg)
    charged = final & np.isin(abs_pdg, PID_SPECIES)
    idx = np.flatnonzero(charged)
    px, py, pz = parts.px[idx], parts.py[idx], parts.pz[idx]
    pt = np.hypot(px, py)
    theta = _theta_deg(px, py, pz)
    r0 = np.hypot(parts.vx[idx], parts.vy[idx])
    eff = tracking_efficiency(r0, det)
    found = (
        (theta >= det.track_theta_min)
        & (theta <= det.track_theta_max)
        & (pt > det.track_pt_min)
        & (rng.random(len(idx)) < eff)
    )
    idx = idx[found]
    px, py, pz, pt, theta, r0 = px[found], py[found], pz[found], pt[found], theta[found], r0[found]
    n = len(idx)
    species = _species_index(abs_pdg[idx])
    mass = _species_masses()[species]
    p = np.sqrt(pt * pt + pz * pz)
    beta = p / np.sqrt(p * p + mass * mass)
    # Leptons (e-, mu-) have positive PDG codes and negative charge; hadrons the opposite.
    sign = np.sign(parts.pdg[idx])
    charge = np.where(species < 2, -sign, sign).astype(np.int64)

    # Momentum: scale the whole vector, so the direction stays the true one.
    scale = 1.0 + pt_resolution(pt, beta, det) * rng.standard_normal(n)
    scale = np.maximum(scale, 0.05)
    mpx, mpy, mpz = px * scale, py * scale, pz * scale
    mp = p * scale
    m_pi = _mass(211)
    energy = np.sqrt(mp * mp + m_pi * m_pi)

    # Impact parameters of the straight line from the true production vertex.
    vx, vy, vz = parts.vx[idx], parts.vy[idx], parts.vz[idx]
    ux, uy = px / pt, py / pt
    d0 = vx * uy - vy * ux
    path = -(vx * ux + vy * uy)  # transverse path from the vertex to the POCA
    z0 = vz + path * pz / pt
    sin_theta = pt / p
    ms = p * beta * sin_theta**1.5
    degrade = np.where(r0 > det.vxd_outer_radius, det.cdc_only_ip_factor, 1.0)
    dr = d0 + degrade * np.hypot(det.d0_res_a, det.d0_res_b / ms) * rng.standard_normal(n)
    dz = z0 + degrade * np.hypot(det.z0_res_a, det.z0_res_b / ms) * rng.standard_normal(n)

    # CDC hits: layers crossed between the entry radius and where the track
    # leaves (outer wall, curling back at 2R, or an endplate).
    radius_of_curvature = 100.0 * pt / (0.2998 * det.field_tesla)  # cm
    z_end = np.where(pz >= 0, det.cdc_z_max, det.cdc_z_min)
    r_endplate = r0 + np.abs((z_end - vz) * pt / np.where(pz == 0, 1e-12, pz))
    r_exit = np.minimum(np.minimum(det.cdc_outer_radius, 2.0 * radius_of_curvature), r_endplate)
    r_entry = np.maximum(r0, det.cdc_inner_radius)
    span = det.cdc_outer_radius - det.cdc_inner_radius
    layers = np.round(det.cdc_layers * np.clip((r_exit - r_entry) / span, 0.0, 1.0))
    # Binomial(layers, eff) in its normal approximation: the exact draw costs
    # as much as the rest of the track simulation.
    mean = layers * det.cdc_hit_efficiency
    spread = np.sqrt(mean * (1.0 - det.cdc_hit_efficiency))
    n_hits = np.clip(np.rint(mean + spread * rng.standard_normal(n)), 0, layers).astype(np.int64)

    # Matched ECL cluster: only tracks that reach the ECL inside its acceptance.
    true_e = np.sqrt(p * p + mass * mass)
    reaches = _in_ecl(theta, det) & (2.0 * radius_of_curvature > det.ecl_inner_radius)
    mip = 0.15 + rng.gamma(4.0, 0.0125, n)  # MIP: ~0.2 GeV with a Landau-like tail
    hadronic = (true_e - mass) * rng.beta(2.0, 3.0, n)
    is_hadron = species >= 2
    showers = rng.random(n) < 0.5
    electron = true_e * (0.98 + ecl_energy_resolution(true_e, det) * rng.standard_normal(n))
    cluster = np.where(species == 0, electron, np.where(is_hadron & showers, hadronic, mip))
    cluster = np.where(reaches, np.maximum(np.minimum(cluster, true_e * 1.1), 0.0), 0.0)

    pid = draw_pid(species, p, det, rng)
    columns: dict[str, Any] = {
        "dr": dr,
        "dz": dz,
        **{name: pid[:, i] for i, name in enumerate(PID_VARIABLES)},
        "nCDCHits": n_hits,
        "clusterE": cluster,
    }
    return _Tracks(
        source=idx,
        event=parts.event[idx],
        charge=charge,
        px=mpx,
        py=mpy,
        pz=mpz,
        e=energy,
        columns=columns,
    )


# ----------------------------------------------------------------------------
# Step 3: photons.
# ----------------------------------------------------------------------------


def _ecl_objects(
    parts: _Particles, final: BoolArray, det: DetectorParameters, rng: np.random.Generator
) -> tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Clusters from true particles: (event, mcIndex global, E, px, py, pz, e9e21)."""
    pdg = parts.pdg
    mothers = parts.mother_global
    mother_pdg = np.where(mothers >= 0, pdg[np.maximum(mothers, 0)], 0)
    photon = np.flatnonzero(final & (pdg == 22))

    # Merged pi0: pairs of photons of the same pi0 closer than the crystal size.
    from_pi0 = photon[mother_pdg[photon] == 111]
    from_pi0 = from_pi0[np.argsort(mothers[from_pi0], kind="stable")]
    merged_first = np.zeros(0, dtype=np.int64)
    merged_second = np.zeros(0, dtype=np.int64)
    if len(from_pi0) > 1:
        first, second = from_pi0[:-1], from_pi0[1:]
        pair = mothers[first] == mothers[second]
        first, second = first[pair], second[pair]
        p1 = np.sqrt(parts.px[first] ** 2 + parts.py[first] ** 2 + parts.pz[first] ** 2)
        p2 = np.sqrt(parts.px[second] ** 2 + parts.py[second] ** 2 + parts.pz[second] ** 2)
        dot = (
            parts.px[first] * parts.px[second]
            + parts.py[first] * parts.py[second]
            + parts.pz[first] * parts.pz[second]
        )
        angle = np.arccos(np.clip(dot / np.maximum(p1 * p2, 1e-300), -1.0, 1.0))
        close = angle < det.pi0_merge_angle
        merged_first, merged_second = first[close], second[close]

    keep = np.ones(len(pdg), dtype=np.bool_)
    keep[merged_second] = False
    single = photon[keep[photon]]
    is_merged = np.zeros(len(pdg), dtype=np.bool_)
    is_merged[merged_first] = True

    px, py, pz, e = (
        parts.px[single].copy(),
        parts.py[single].copy(),
        parts.pz[single].copy(),
        parts.e[single].copy(),
    )
    source = single.copy()
    if len(merged_first):
        where = np.searchsorted(single, merged_first)
        px[where] += parts.px[merged_second]
        py[where] += parts.py[merged_second]
        pz[where] += parts.pz[merged_second]
        e[where] += parts.e[merged_second]
        source[where] = mothers[merged_first]
    merged = is_merged[single]

    # K_L and neutrons: a hadronic cluster part of the time.
    neutral = np.flatnonzero(final & np.isin(np.abs(pdg), (130, 2112)))
    neutral = neutral[rng.random(len(neutral)) < det.neutral_hadron_cluster_probability]
    n_mass = np.where(np.abs(pdg[neutral]) == 2112, _mass(2112), 0.0)
    deposit = (parts.e[neutral] - n_mass) * rng.beta(2.0, 3.0, len(neutral))
    n_scale = deposit / np.maximum(parts.e[neutral], 1e-12)

    src = np.concatenate([source, neutral])
    first_particle = np.concatenate([single, neutral])
    px = np.concatenate([px, parts.px[neutral] * n_scale])
    py = np.concatenate([py, parts.py[neutral] * n_scale])
    pz = np.concatenate([pz, parts.pz[neutral] * n_scale])
    e = np.concatenate([e, deposit])
    kind = np.concatenate([np.where(merged, 1, 0), np.full(len(neutral), 2)])
    event = parts.event[first_particle]

    order = np.argsort(event, kind="stable")
    src, first_particle, px, py, pz, e, kind, event = (
        a[order] for a in (src, first_particle, px, py, pz, e, kind, event)
    )
    theta_true = _theta_deg(px, py, pz)
    r0 = np.hypot(parts.vx[first_particle], parts.vy[first_particle])
    n = len(e)
    e_meas = e * (1.0 + ecl_energy_resolution(e, det) * rng.standard_normal(n))
    sigma_angle = det.ecl_angle_a + det.ecl_angle_b / np.sqrt(np.maximum(e, 1e-3))
    theta = np.radians(theta_true) + sigma_angle * rng.standard_normal(n)
    sin_t = np.maximum(np.sin(theta), 1e-3)
    phi = np.arctan2(py, px) + sigma_angle / sin_t * rng.standard_normal(n)
    e9e21 = np.select(
        [kind == 0, kind == 1],
        [1.0 - rng.beta(1.5, 30.0, n), 1.0 - rng.beta(3.0, 12.0, n)],
        rng.beta(4.0, 3.0, n),
    )
    seen = _in_ecl(theta_true, det) & (r0 < det.ecl_inner_radius) & (e_meas > det.photon_threshold)
    e_meas = e_meas[seen]
    theta, phi = theta[seen], phi[seen]
    st = np.sin(theta)
    return (
        event[seen],
        src[seen],
        e_meas,
        e_meas * st * np.cos(phi),
        e_meas * st * np.sin(phi),
        e_meas * np.cos(theta),
        e9e21[seen],
    )


def _beam_background(
    n_events: int, det: DetectorParameters, rng: np.random.Generator
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Beam-background clusters: (event, E, px, py, pz, e9e21)."""
    counts = rng.poisson(det.beam_photon_mean, n_events)
    n = int(counts.sum())
    event = np.repeat(np.arange(n_events), counts)
    regions = np.radians(np.array([det.ecl_forward, det.ecl_barrel, det.ecl_backward]))
    fractions = np.cumsum(det.beam_photon_regions) / sum(det.beam_photon_regions)
    which = np.searchsorted(fractions[:-1], rng.random(n), side="right")
    cos_hi, cos_lo = np.cos(regions[which, 0]), np.cos(regions[which, 1])
    cos_t = rng.uniform(cos_lo, cos_hi)
    sin_t = np.sqrt(1.0 - cos_t * cos_t)
    phi = rng.uniform(-np.pi, np.pi, n)
    energy = det.photon_threshold + rng.exponential(det.beam_photon_slope, n)
    return (
        event,
        energy,
        energy * sin_t * np.cos(phi),
        energy * sin_t * np.sin(phi),
        energy * cos_t,
        1.0 - rng.beta(2.0, 10.0, n),
    )


# ----------------------------------------------------------------------------
# Step 4: V0s.
# ----------------------------------------------------------------------------


def _v0s(
    parts: _Particles,
    tracks: _Tracks,
    n_events: int,
    det: DetectorParameters,
    rng: np.random.Generator,
) -> tuple[IntArray, dict[str, Any]]:
    """V0 candidates: (event, columns with global track indices)."""
    mothers = parts.mother_global[tracks.source]
    r_true = np.hypot(parts.vx[tracks.source], parts.vy[tracks.source])
    candidate = np.flatnonzero((mothers >= 0) & (r_true > det.v0_min_radius))
    # Opposite-charge pairs of tracks with the same true mother (same vertex).
    order = candidate[np.argsort(mothers[candidate], kind="stable")]
    _, counts = np.unique(mothers[order], return_counts=True)
    groups = ak.unflatten(ak.zip({"i": order, "q": tracks.charge[order]}), counts.astype(np.int64))
    pairs = ak.cartesian([groups[groups.q > 0].i, groups[groups.q < 0].i], axis=1)
    pos = np.asarray(ak.to_numpy(ak.flatten(pairs["0"])), dtype=np.int64)
    neg = np.asarray(ak.to_numpy(ak.flatten(pairs["1"])), dtype=np.int64)
    src = tracks.source[pos]
    vx, vy, vz = parts.vx[src], parts.vy[src], parts.vz[src]
    radius = np.hypot(vx, vy)
    found = rng.random(len(pos)) < v0_efficiency(radius, det)
    pos, neg = pos[found], neg[found]
    vx, vy, vz, radius = vx[found], vy[found], vz[found], radius[found]
    sigma = det.v0_res_a + det.v0_res_b * radius
    n_true = len(pos)
    x = vx + sigma * rng.standard_normal(n_true)
    y = vy + sigma * rng.standard_normal(n_true)
    z = vz + sigma * rng.standard_normal(n_true)
    chi = rng.random(n_true)

    # Fake vertices: a random +- pair of the event, placed along the pair's
    # momentum at a small distance; their fit probabilities pile up at 0.
    q = tracks.charge
    pos_all, neg_all = np.flatnonzero(q > 0), np.flatnonzero(q < 0)
    n_pos = np.bincount(tracks.event[pos_all], minlength=n_events)
    n_neg = np.bincount(tracks.event[neg_all], minlength=n_events)
    eligible = np.flatnonzero((n_pos > 0) & (n_neg > 0))
    fake_events = eligible[rng.random(len(eligible)) < det.fake_v0_rate]
    pos_off = np.concatenate([[0], np.cumsum(n_pos)])
    neg_off = np.concatenate([[0], np.cumsum(n_neg)])
    k_pos = (rng.random(len(fake_events)) * n_pos[fake_events]).astype(np.int64)
    k_neg = (rng.random(len(fake_events)) * n_neg[fake_events]).astype(np.int64)
    f_pos = pos_all[pos_off[fake_events] + k_pos]
    f_neg = neg_all[neg_off[fake_events] + k_neg]
    fpx = tracks.px[f_pos] + tracks.px[f_neg]
    fpy = tracks.py[f_pos] + tracks.py[f_neg]
    fpz = tracks.pz[f_pos] + tracks.pz[f_neg]
    fpt = np.maximum(np.hypot(fpx, fpy), 1e-9)
    distance = rng.exponential(det.fake_v0_scale, len(fake_events))
    fx, fy, fz = distance * fpx / fpt, distance * fpy / fpt, distance * fpz / fpt
    f_chi = rng.beta(0.4, 4.0, len(fake_events))

    pos = np.concatenate([pos, f_pos])
    neg = np.concatenate([neg, f_neg])
    columns: dict[str, Any] = {
        "x": np.concatenate([x, fx]),
        "y": np.concatenate([y, fy]),
        "z": np.concatenate([z, fz]),
        "px": tracks.px[pos] + tracks.px[neg],
        "py": tracks.py[pos] + tracks.py[neg],
        "pz": tracks.pz[pos] + tracks.pz[neg],
        "E": tracks.e[pos] + tracks.e[neg],  # both under the pion hypothesis
        "chiProb": np.concatenate([chi, f_chi]),
        "track0": pos,
        "track1": neg,
    }
    event = tracks.event[pos]
    order = np.argsort(event, kind="stable")
    return event[order], {k: v[order] for k, v in columns.items()}


# ----------------------------------------------------------------------------
# Assembly.
# ----------------------------------------------------------------------------


def _jagged(collection: str, columns: dict[str, Any], event: IntArray, n_events: int) -> ak.Array:
    """Build a jagged record array in the format's dtypes from event-sorted columns."""
    counts = np.bincount(event, minlength=n_events)
    offsets = np.zeros(n_events + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    names = [b.name for b in COLLECTIONS[collection] if b.name in columns]
    dtypes = {b.name: b.dtype for b in COLLECTIONS[collection]}
    record = ak.contents.RecordArray(
        [ak.contents.NumpyArray(np.ascontiguousarray(columns[k], dtype=dtypes[k])) for k in names],
        names,
        length=len(event),
    )
    layout = ak.contents.ListOffsetArray(ak.index.Index64(offsets), record)
    return ak.Array(layout)


def _local(global_index: IntArray, owner_event: IntArray, offsets: IntArray) -> IntArray:
    return np.asarray(global_index - offsets[owner_event], dtype=np.int64)


def simulate(
    truth: TruthEvents,
    machine: Any,
    rng: np.random.Generator,
    *,
    simulation: bool = True,
    detector: DetectorParameters | None = None,
    experiment: int | npt.ArrayLike = 0,
    run: int | npt.ArrayLike = 0,
    first_event: int = 0,
    production: int = 0,
) -> dict[str, Any]:
    """Simulate the detector response to generated events.

    Args:
        truth: Generated events (lab frame).
        machine: The sample's :class:`belleflow.beams.Machine` (scaled to its ecms).
        rng: Random generator for all detector effects.
        simulation: Keep MC truth (``MCParticle``, ``mcIndex``); False for data.
        detector: Detector parameters; default from ``machine.experiment``.
        experiment: ``__experiment__``: one number or one per event.
        run: ``__run__``: one number or one per event.
        first_event: ``__event__`` of the first event; the others follow.
        production: ``__production__``.

    Returns:
        Event branches (numpy) and collections (jagged awkward records) by
        name, in the dtypes of ``belleflow.ntuple.format``, ready for
        :func:`belleflow.ntuple.write_ntuple`.
    """
    det = detector or detector_for(machine)
    n = len(truth)
    parts = _convert_photons(_flatten(truth), det, rng)
    final = parts.final_state()
    tracks = _tracks(parts, final, det, rng)

    # Tracks: mcIndex local to the (extended) MC record.
    track_counts = np.bincount(tracks.event, minlength=n)
    track_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(track_counts, out=track_offsets[1:])
    track_cols: dict[str, Any] = {
        "px": tracks.px,
        "py": tracks.py,
        "pz": tracks.pz,
        "E": tracks.e,
        "charge": tracks.charge,
        **tracks.columns,
    }
    if simulation:
        track_cols["mcIndex"] = _local(tracks.source, tracks.event, parts.offsets)

    # Photons: from particles, then beam background; sorted by event.
    g_event, g_src, g_e, g_px, g_py, g_pz, g_shape = _ecl_objects(parts, final, det, rng)
    b_event, b_e, b_px, b_py, b_pz, b_shape = _beam_background(n, det, rng)
    p_event = np.concatenate([g_event, b_event])
    order = np.argsort(p_event, kind="stable")
    photon_cols: dict[str, Any] = {
        "px": np.concatenate([g_px, b_px])[order],
        "py": np.concatenate([g_py, b_py])[order],
        "pz": np.concatenate([g_pz, b_pz])[order],
        "E": np.concatenate([g_e, b_e])[order],
        "clusterE9E21": np.concatenate([g_shape, b_shape])[order],
    }
    if simulation:
        mc = np.concatenate([_local(g_src, g_event, parts.offsets), np.full(len(b_event), -1)])
        photon_cols["mcIndex"] = mc[order]
    p_event = p_event[order]

    v_event, v_cols = _v0s(parts, tracks, n, det, rng)
    v_cols["track0"] = _local(v_cols["track0"], v_event, track_offsets)
    v_cols["track1"] = _local(v_cols["track1"], v_event, track_offsets)

    beam = machine.beam_p4
    out: dict[str, Any] = {
        "__experiment__": np.broadcast_to(np.asarray(experiment, dtype=np.int32), (n,)).copy(),
        "__run__": np.broadcast_to(np.asarray(run, dtype=np.int32), (n,)).copy(),
        "__event__": (first_event + np.arange(n)).astype(np.uint32),
        "__production__": np.full(n, production, dtype=np.int32),
        "__weight__": np.asarray(truth.weight, dtype=np.float64),
        "Ecms": np.full(n, machine.ecms),
        "beamE": np.full(n, beam.E),
        "beamPx": np.full(n, beam.px),
        "beamPy": np.full(n, beam.py),
        "beamPz": np.full(n, beam.pz),
        "Track": _jagged("Track", track_cols, tracks.event, n),
        "Photon": _jagged("Photon", photon_cols, p_event, n),
        "V0": _jagged("V0", v_cols, v_event, n),
    }
    if simulation:
        mc_cols = {
            "PDG": parts.pdg,
            "mother": parts.mother,
            "px": parts.px,
            "py": parts.py,
            "pz": parts.pz,
            "E": parts.e,
            "prodVertexX": parts.vx,
            "prodVertexY": parts.vy,
            "prodVertexZ": parts.vz,
        }
        out["MCParticle"] = _jagged("MCParticle", mc_cols, parts.event, n)
    return out
