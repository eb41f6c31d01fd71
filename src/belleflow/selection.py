"""Reusable event-selection helpers for the channel processors.

Every function works on the awkward collections of ``Belle2Schema``
NanoEvents (``events.Track``, ``events.Photon``, ``events.V0``) and returns
awkward arrays: per-object (jagged) masks, per-event masks, or Momentum4D
arrays. Nothing here records a cutflow: channels pass the masks to
``chunk.cut(name, mask)``. Masses come from the ``particle`` package through
:func:`belleflow.kinematics.mass`; the CM frame from the per-event beam and
the run's machine (:func:`cm_frame`).

Typical use in a channel::

    tracks = selection.good_tracks(events.Track)
    four = chunk.cut("four_tracks", ak.num(tracks) == 4)
    pairs = selection.opposite_charge_pairs(tracks)           # all +- combinations
    m_pair = selection.pair_p4(pairs, "mu-").mass
    vetoed = selection.resonance_veto(m_pair, ("J/psi(1S)",), resolution=0.01)

Other channel engineers may append functions at the end of this module
(add them to ``__all__``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import awkward as ak
import numpy as np
import vector

from belleflow.beams import Machine, get_machine
from belleflow.kinematics import mass, with_mass

__all__ = [
    "DEFAULT_MAX_DR",
    "DEFAULT_MAX_DZ",
    "Resolution",
    "cm_energy",
    "cm_frame",
    "complementary_pairs",
    "count",
    "extra_energy",
    "good_track_mask",
    "good_tracks",
    "identified",
    "in_window",
    "net_charge",
    "opposite_charge_pairs",
    "pair_legs",
    "pair_p4",
    "resonance_veto",
    "resonance_windows",
    "scatter",
    "sum_p4",
    "with_hypothesis",
]

#: Transverse impact-parameter cut of a prompt track (cm): the Belle II
#: standard ``dr < 0.5 cm`` of low-multiplicity analyses.
DEFAULT_MAX_DR = 0.5
#: Longitudinal impact-parameter cut of a prompt track (cm): ``|dz| < 2 cm``.
DEFAULT_MAX_DZ = 2.0

_P4 = ("px", "py", "pz", "E")

#: A mass resolution: a number (GeV), a function of the resonance mass, or
#: a mapping from resonance name to a number.
Resolution = float | Callable[[float], float] | Mapping[str, float]


def good_track_mask(
    tracks: Any,
    *,
    max_dr: float = DEFAULT_MAX_DR,
    max_dz: float = DEFAULT_MAX_DZ,
    min_cdc_hits: int = 0,
    min_pt: float = 0.0,
) -> Any:
    """Per-track mask of prompt, well-measured tracks.

    Args:
        tracks: ``events.Track`` (jagged).
        max_dr: Maximum transverse distance of the POCA to the IP (cm).
        max_dz: Maximum absolute longitudinal distance of the POCA (cm).
        min_cdc_hits: Minimum number of CDC hits (0: not required, and
            the ``nCDCHits`` branch is not read).
        min_pt: Minimum transverse momentum (GeV; 0: not required).

    Returns:
        Jagged boolean array with the structure of ``tracks``.
    """
    mask = (abs(tracks.dr) < max_dr) & (abs(tracks.dz) < max_dz)
    if min_cdc_hits > 0:
        mask = mask & (tracks.nCDCHits >= min_cdc_hits)
    if min_pt > 0.0:
        mask = mask & (np.hypot(tracks.px, tracks.py) > min_pt)
    return mask


def good_tracks(tracks: Any, **cuts: Any) -> Any:
    """The tracks passing :func:`good_track_mask` (same keyword arguments)."""
    return tracks[good_track_mask(tracks, **cuts)]


def count(mask: Any) -> Any:
    """Number of True entries per event of a jagged mask (``ak.sum(mask, axis=-1)``)."""
    return ak.sum(mask, axis=-1)


def net_charge(tracks: Any) -> Any:
    """Sum of the track charges per event."""
    return ak.sum(tracks.charge, axis=-1)


def identified(tracks: Any, variable: str = "muonID", cut: float = 0.5) -> Any:
    """Per-track mask of tracks whose PID likelihood ratio exceeds ``cut``.

    Args:
        tracks: Tracks (jagged).
        variable: ``muonID``, ``electronID``, ``pionID``, ``kaonID`` or ``protonID``.
        cut: Lower bound on the likelihood ratio (strict).
    """
    return tracks[variable] > cut


def with_hypothesis(tracks: Any, particle: str | int) -> Any:
    """Track four-momenta under another mass hypothesis (tracks carry the pion mass).

    Args:
        tracks: Tracks or any Momentum4D array.
        particle: Name or PDG id understood by ``particle`` (``"mu-"``, ``"e-"``, 321...).

    Returns:
        Momentum4D array (``px, py, pz, E`` only) with the same structure.
    """
    return with_mass(tracks, mass(particle))


def sum_p4(p4s: Any) -> Any:
    """Per-event sum of a jagged Momentum4D array (lab frame), as a Momentum4D array.

    Unlike ``ak.sum`` on records, this works for any record with ``px, py, pz, E``.
    """
    return ak.zip(
        {
            "px": ak.sum(p4s.px, axis=-1),
            "py": ak.sum(p4s.py, axis=-1),
            "pz": ak.sum(p4s.pz, axis=-1),
            "E": ak.sum(p4s.E, axis=-1),
        },
        with_name="Momentum4D",
        behavior=p4s.behavior,
    )


def opposite_charge_pairs(tracks: Any, *, negative: Any | None = None) -> Any:
    """All opposite-charge pairs: fields ``positive`` and ``negative``.

    With two positive and two negative tracks this gives the four ``+-``
    combinations; unlike ``ak.combinations`` the legs are ordered by charge.

    Args:
        tracks: Tracks (jagged). With ``negative`` given, the positive legs are
            taken from ``tracks`` and the negative ones from ``negative``
            (e.g. two differently identified collections).
        negative: Optional second collection for the negative legs.

    Returns:
        Jagged record array (per event, per pair) with fields ``positive``
        and ``negative``.
    """
    plus = tracks[tracks.charge > 0]
    source = tracks if negative is None else negative
    minus = source[source.charge < 0]
    return ak.cartesian({"positive": plus, "negative": minus}, axis=1)


def pair_p4(pairs: Any, particle: str | int | None = None) -> Any:
    """Four-momentum of each pair of :func:`opposite_charge_pairs`.

    Args:
        pairs: Records with fields ``positive`` and ``negative``.
        particle: Mass hypothesis of both legs (None: keep the tracks' pion energies).
    """
    a, b = pairs.positive, pairs.negative
    if particle is not None:
        a, b = with_hypothesis(a, particle), with_hypothesis(b, particle)
    return ak.zip(
        {"px": a.px + b.px, "py": a.py + b.py, "pz": a.pz + b.pz, "E": a.E + b.E},
        with_name="Momentum4D",
        behavior=a.behavior,
    )


def complementary_pairs(pairs: Any) -> Any:
    """For each pair of :func:`opposite_charge_pairs` of two positive and two negative
    tracks, the pair of the other two tracks (pair k of the four is the complement of 3 - k).

    Raises:
        ValueError: If an event has not exactly four pairs (2 + 2 tracks).

    Examples:
        >>> import awkward as ak
        >>> tracks = ak.Array([[{"charge": 1, "i": 0}, {"charge": -1, "i": 1},
        ...                     {"charge": 1, "i": 2}, {"charge": -1, "i": 3}]])
        >>> pairs = opposite_charge_pairs(tracks)
        >>> other = complementary_pairs(pairs)
        >>> [(p["positive"]["i"], p["negative"]["i"]) for p in pairs[0].tolist()]
        [(0, 1), (0, 3), (2, 1), (2, 3)]
        >>> [(p["positive"]["i"], p["negative"]["i"]) for p in other[0].tolist()]
        [(2, 3), (2, 1), (0, 3), (0, 1)]
    """
    if ak.any(ak.num(pairs, axis=1) != 4):
        msg = "complementary_pairs needs two positive and two negative tracks in every event"
        raise ValueError(msg)
    return pairs[:, ::-1]


def pair_legs(pairs: Any) -> Any:
    """The two legs of each pair of :func:`opposite_charge_pairs` as a list (positive, negative).

    Per-track weights (:func:`belleflow.systematics.pid`) read the tracks of
    a candidate from such a column.

    Examples:
        >>> import awkward as ak
        >>> pairs = opposite_charge_pairs(ak.Array([[{"charge": 1, "i": 0}, {"charge": -1, "i": 1}]]))
        >>> pair_legs(pairs).i.tolist()
        [[[0, 1]]]
    """
    return ak.concatenate([pairs.positive[..., None], pairs.negative[..., None]], axis=-1)


def cm_frame(events: Any) -> tuple[Any, Machine | None]:
    """The per-event beam four-momentum and the e- direction for CM quantities.

    The e- beam direction comes from the run's machine (``events.metadata``
    ``machine``, else ``experiment``); without either the lab +z axis is used
    (see :func:`belleflow.kinematics.to_cm`).

    Returns:
        ``(beam, her_direction)`` to pass to the :mod:`belleflow.kinematics`
        functions; ``beam`` is a NumPy ``vector`` array (one entry per event).
    """
    meta = getattr(events, "metadata", None) or {}
    name = meta.get("machine") or meta.get("experiment")
    machine = get_machine(str(name)) if name else None
    beam = events.beam
    # A NumPy-backed beam makes the per-event Lorentz matrices NumPy arithmetic,
    # several times faster than building them from awkward arrays.
    numpy_beam = vector.array({c: ak.to_numpy(getattr(beam, c)).astype(np.float64) for c in _P4})
    return numpy_beam, machine


def cm_energy(p4: Any, beam: Any) -> Any:
    """CM-frame energy ``p . P / sqrt(P^2)`` of lab four-vectors, P the per-event beam.

    Args:
        p4: Lab four-vectors (flat or jagged, one list per event).
        beam: Per-event beam four-momentum (awkward or NumPy ``vector`` array).
    """
    x_b, y_b, z_b, e_b = (np.asarray(getattr(beam, c), dtype=np.float64) for c in _P4)
    m_b = np.sqrt(e_b * e_b - x_b * x_b - y_b * y_b - z_b * z_b)
    return (e_b * p4.E - x_b * p4.px - y_b * p4.py - z_b * p4.pz) / m_b


def extra_energy(
    photons: Any,
    *,
    threshold: float = 0.1,
    used: Any | None = None,
    beam: Any | None = None,
    her_direction: Machine | None = None,
) -> Any:
    """Sum of the energies of the photons above ``threshold`` not used in the candidate.

    Args:
        photons: ``events.Photon`` (jagged).
        threshold: Minimum photon energy (GeV) counted, in the frame used.
        used: Optional jagged mask of the photons that belong to the candidate.
        beam: Per-event beam four-momentum: energies in the CM frame when
            given (pass ``*cm_frame(events)``), else in the lab.
        her_direction: See :func:`belleflow.kinematics.to_cm` (irrelevant for
            energies, accepted so that ``*cm_frame(events)`` can be passed).

    Returns:
        Per-event float array (0 for events without such photons).
    """
    del her_direction  # an energy does not depend on the CM axes
    energy = photons.E if beam is None else cm_energy(photons, beam)
    keep = energy > threshold
    if used is not None:
        keep = keep & ~used
    return ak.sum(ak.where(keep, energy, 0.0), axis=-1)


def _sigma(resolution: Resolution, name: str, value: float) -> float:
    if isinstance(resolution, Mapping):
        return float(resolution[name])
    if callable(resolution):
        return float(resolution(value))
    return float(resolution)


def resonance_windows(
    resonances: Iterable[str | int],
    *,
    resolution: Resolution,
    n_sigma: float = 3.0,
) -> dict[str, tuple[float, float]]:
    """Veto windows ``mass -+ n_sigma * resolution`` around known resonances.

    Args:
        resonances: Names or PDG ids understood by ``particle``
            (``"J/psi(1S)"``, ``"psi(2S)"``, ``"Upsilon(1S)"``, ``"K(S)0"``, ``"Lambda"``...).
        resolution: Mass resolution (GeV): a number, a function of the
            resonance mass, or a mapping by resonance name (as given).
        n_sigma: Half-width of the window in resolution units.

    Returns:
        ``{name: (low, high)}`` in GeV.

    Examples:
        >>> w = resonance_windows(["J/psi(1S)"], resolution=0.01, n_sigma=3)
        >>> [round(x, 3) for x in w["J/psi(1S)"]]
        [3.067, 3.127]
    """
    windows = {}
    for resonance in resonances:
        centre = mass(resonance)
        half = n_sigma * _sigma(resolution, str(resonance), centre)
        windows[str(resonance)] = (centre - half, centre + half)
    return windows


def in_window(values: Any, low: float, high: float) -> Any:
    """Mask of ``low <= values < high`` (works on flat and jagged arrays)."""
    return (values >= low) & (values < high)


def resonance_veto(
    masses: Any,
    resonances: Iterable[str | int],
    *,
    resolution: Resolution,
    n_sigma: float = 3.0,
) -> Any:
    """Mask that is True where a mass lies outside every resonance window.

    Args:
        masses: Masses (GeV), flat or jagged (e.g. one per pair).
        resonances: See :func:`resonance_windows`.
        resolution: See :func:`resonance_windows`.
        n_sigma: See :func:`resonance_windows`.

    Returns:
        Boolean array with the structure of ``masses``; reduce with
        ``ak.all(..., axis=-1)`` to veto events with any pair in a window.
    """
    keep = ak.ones_like(masses, dtype=bool)
    for low, high in resonance_windows(resonances, resolution=resolution, n_sigma=n_sigma).values():
        keep = keep & ~in_window(masses, low, high)
    return keep


# The framework runs a channel's selection on the events that pass its cheap,
# shift-independent preselection and puts the per-event results back at chunk
# length with :func:`scatter` (False, i.e. "failed", elsewhere: the cutflow ANDs
# each cut with the previous ones, so the counts are unchanged).


def scatter(
    values: Any, index: np.ndarray[Any, Any], n: int, fill: Any = False
) -> np.ndarray[Any, Any]:
    """Per-event values of the events at ``index`` spread over a chunk of ``n`` events.

    Args:
        values: Flat per-event values (one per entry of ``index``).
        index: Chunk positions.
        n: Events in the chunk.
        fill: Value of the other events (False for masks).
    """
    array = (
        ak.to_numpy(ak.fill_none(values, fill))
        if isinstance(values, ak.Array)
        else np.asarray(values)
    )
    out = np.full(n, fill, dtype=array.dtype)
    out[index] = array
    return out
