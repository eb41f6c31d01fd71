"""Per-candidate quantities that classifier inputs are made of, on ``vector`` records.

A channel states its classifier features as short expressions of these and
of ``vector``'s own properties (``.p``, ``.pt``, ``.costheta``, ``.mass``,
``a + b``), on awkward ``Momentum4D`` records (flat or jagged: one per
candidate, one per event, broadcast against each other as awkward does)::

    mu = features.in_cm(legs, *ev.cm_frame, mass=kinematics.mass("mu-"))
    pairs = selection.opposite_charge_pairs(mu)
    dimuon = pairs.positive + pairs.negative
    columns = {
        "p_ratio": features.momentum_ratio(pairs.positive, pairs.negative),
        "cos_opening": features.cos_opening(pairs.positive, pairs.negative),
        "cos_theta": dimuon.costheta,
        "pt": dimuon.pt,
    }

Every function also takes NumPy ``vector`` arrays and ``vector.obj`` objects;
on the small arrays of a chunk NumPy is much faster per call (:func:`as_numpy`).
Angles are between three-momenta; a null momentum gives NaN (no warning).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import vector

from belleflow.beams import Machine
from belleflow.kinematics import Direction, to_cm, with_mass

__all__ = [
    "as_numpy",
    "cos_helicity",
    "cos_opening",
    "four_track_pairs",
    "in_cm",
    "jagged",
    "momentum_ratio",
    "opening_angle",
    "per_candidate",
]

_P4 = ("px", "py", "pz", "E")
#: Of four tracks ordered + + - -: the positive and negative leg of each pair
#: of selection.opposite_charge_pairs, then those of the pair of the other two.
_PAIR_LEGS = ([0, 0, 1, 1], [2, 3, 2, 3], [1, 1, 0, 0], [3, 2, 3, 2])


def in_cm(
    objects: Any, beam: Machine | Any, her_direction: Direction = None, *, mass: Any = None
) -> Any:
    """The objects (tracks, photons, ...) with their four-momenta in the CM frame.

    Awkward records keep every other field (charge, particle identification),
    so the CM objects pair, select and index as the lab ones do.
    A NumPy ``vector`` array of ``(events, k)`` objects (:func:`as_numpy`)
    is transformed with each event's beam.

    Args:
        objects: Awkward records with ``px, py, pz, E`` (e.g. ``ev.Track``),
            or a NumPy ``vector`` array with one row per event.
        beam: Per-event beam four-momentum, or a Machine (see
            :func:`belleflow.kinematics.to_cm`); pass ``*ev.cm_frame``.
        her_direction: The e- direction (idem).
        mass: Mass hypothesis (GeV) applied in the lab before the
            transformation; None keeps the objects' energies.

    Examples:
        >>> import awkward as ak, vector
        >>> from belleflow.beams import SUPERKEKB
        >>> b = SUPERKEKB.beam_p4  # the beam sum: at rest in the CM frame
        >>> tracks = ak.zip(
        ...     {"px": [[b.px]], "py": [[b.py]], "pz": [[b.pz]], "E": [[b.E]], "charge": [[1]]},
        ...     with_name="Momentum4D", behavior=vector.backends.awkward.behavior,
        ... )
        >>> cm = in_cm(tracks, SUPERKEKB)
        >>> cm.charge.tolist(), round(float(cm.p[0, 0]), 2), round(float(cm.E[0, 0]), 4)
        ([[1]], 0.0, 10.5796)
        >>> round(float(in_cm(as_numpy(tracks, 1), SUPERKEKB).E[0, 0]), 4)
        10.5796
    """
    p4 = objects if mass is None else with_mass(objects, mass)
    if isinstance(p4, np.ndarray) and p4.ndim > 1:  # vector's NumPy arrays are ndarrays
        # One flat transformation, each event's beam repeated at its k objects.
        k = p4.shape[1]
        if not isinstance(beam, Machine):
            beam = vector.array({c: np.repeat(np.asarray(getattr(beam, c)), k) for c in _P4})
        return to_cm(p4.reshape(-1), beam, her_direction).reshape(p4.shape)
    if not isinstance(objects, ak.Array):
        return to_cm(p4, beam, her_direction)
    cm = to_cm(p4, beam, her_direction)
    for field in _P4:
        objects = ak.with_field(objects, cm[field], field)
    return objects


def four_track_pairs(tracks: Any) -> tuple[Any, Any, Any, Any]:
    """The four opposite-charge pairs of four tracks ordered ``+ + - -``, leg by leg.

    Args:
        tracks: ``(events, 4)`` NumPy array (four-vectors of :func:`as_numpy`
            or any per-track quantity), positive tracks first.

    Returns:
        ``(positive, negative, other_positive, other_negative)``, each
        ``(events, 4)``: the legs of each pair, in the order of
        :func:`belleflow.selection.opposite_charge_pairs`, and of the pair
        made of the other two tracks.

    Examples:
        >>> import numpy as np
        >>> [leg.tolist() for leg in four_track_pairs(np.array([["p0", "p1", "n0", "n1"]]))]
        [[['p0', 'p0', 'p1', 'p1']], [['n0', 'n1', 'n0', 'n1']], [['p1', 'p1', 'p0', 'p0']], [['n1', 'n0', 'n1', 'n0']]]
    """
    positive, negative, other_positive, other_negative = (tracks[:, i] for i in _PAIR_LEGS)
    return positive, negative, other_positive, other_negative


def as_numpy(p4: Any, per_event: int | None = None) -> Any:
    """Awkward four-vectors as a NumPy ``vector`` array: ``(events, per_event)``, or flat.

    vector's NumPy backend costs microseconds per call where its awkward
    backend costs a millisecond or more on the small arrays of a chunk; the
    features of a fixed number of candidates per event (the four pairs of
    four tracks) are computed on it. :func:`jagged` turns a result back into
    lists.

    Args:
        p4: Awkward ``Momentum4D`` records, flat or one list per event.
        per_event: The number of four-vectors in every event's list (None
            for a flat array).

    Raises:
        ValueError: If an event does not hold ``per_event`` four-vectors.

    Examples:
        >>> import awkward as ak, vector
        >>> p4 = ak.zip({"px": [[1.0, 0.0], [0.0, 2.0]], "py": [[0.0, 0.0]] * 2, "pz": [[0.0, 0.0]] * 2,
        ...              "E": [[2.0, 1.0], [1.0, 3.0]]}, with_name="Momentum4D",
        ...             behavior=vector.backends.awkward.behavior)
        >>> v = as_numpy(p4, 2)
        >>> v.shape, v.p.tolist()
        ((2, 2), [[1.0, 0.0], [0.0, 2.0]])
    """
    if per_event is not None and ak.any(ak.num(p4, axis=1) != per_event):
        msg = f"as_numpy: every event must hold {per_event} four-vectors"
        raise ValueError(msg)
    comps = {}
    for c in _P4:
        values = np.asarray(ak.to_numpy(ak.flatten(p4[c], axis=None)), dtype=np.float64)
        comps[c] = values if per_event is None else values.reshape(-1, per_event)
    return vector.array(comps)


def jagged(values: Any) -> Any:
    """A NumPy ``(events, k)`` array as awkward lists (what candidate masks index).

    Examples:
        >>> import numpy as np
        >>> str(jagged(np.arange(4.0).reshape(2, 2)).type)
        '2 * var * float64'
    """
    return ak.from_regular(ak.from_numpy(np.asarray(values)), axis=1)


def momentum_ratio(a: Any, b: Any) -> Any:
    """Softer over harder momentum magnitude of two objects, in [0, 1].

    Examples:
        >>> import vector
        >>> float(momentum_ratio(vector.obj(px=3.0, py=4.0, pz=0.0), vector.obj(px=0.0, py=0.0, pz=1.0)))
        0.2
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.minimum(a.p, b.p) / np.maximum(a.p, b.p)


def cos_opening(a: Any, b: Any) -> Any:
    """Cosine of the angle between two three-momenta, clipped to [-1, 1].

    Examples:
        >>> import vector
        >>> float(cos_opening(vector.obj(px=1.0, py=0.0, pz=0.0), vector.obj(px=1.0, py=1.0, pz=0.0)))
        0.7071067811865475
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = a.to_3D().dot(b.to_3D()) / (a.p * b.p)
    # Rounding can put (anti)parallel momenta just beyond +-1; ufuncs: awkward-safe.
    return np.minimum(np.maximum(cos, -1.0), 1.0)


def opening_angle(a: Any, b: Any) -> Any:
    """Angle (rad) between two three-momenta, ``arccos`` of :func:`cos_opening`.

    vector's ``deltaangle`` divides by each magnitude in turn: the same angle
    to the last bits, but then not the arccos of :func:`cos_opening`.

    Examples:
        >>> import vector
        >>> round(float(opening_angle(vector.obj(px=1.0, py=0.0, pz=0.0), vector.obj(px=0.0, py=2.0, pz=0.0))), 6)
        1.570796
    """
    return np.arccos(cos_opening(a, b))


def cos_helicity(daughter: Any, parent: Any) -> Any:
    """Helicity angle cosine: the daughter's direction in the parent's rest frame to the parent's flight.

    The parent's flight direction is taken in the frame the two four-vectors
    are given in (the CM frame for the usual helicity angle).

    Examples:
        >>> import vector
        >>> z = vector.obj(px=0.0, py=0.0, pz=3.0, E=5.0)  # mass 4, along +z
        >>> forward = vector.obj(px=0.0, py=0.0, pz=1.0, E=2.0).boost_p4(z)  # along +z at rest
        >>> sideways = vector.obj(px=1.0, py=0.0, pz=0.0, E=2.0).boost_p4(z)
        >>> round(float(cos_helicity(forward, z)), 9), round(float(cos_helicity(sideways, z)), 9)
        (1.0, 0.0)
    """
    return cos_opening(daughter.boostCM_of_p4(parent), parent)


def per_candidate(values: Any, candidates: Any) -> Any:
    """Per-event values repeated at each of the event's candidates (shaped like ``candidates``).

    Examples:
        >>> import awkward as ak, numpy as np
        >>> per_candidate(ak.Array([1.0, 2.0]), ak.Array([[0.5, 0.5], [0.5]])).tolist()
        [[1.0, 1.0], [2.0]]
        >>> per_candidate(np.array([1.0, 2.0]), np.zeros((2, 3))).tolist()
        [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    """
    if isinstance(candidates, np.ndarray):
        values = np.asarray(values)
        shape = values.shape + (1,) * (candidates.ndim - values.ndim)
        return np.broadcast_to(values.reshape(shape), candidates.shape)
    return ak.broadcast_arrays(values, candidates)[0]
