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

Every function also takes NumPy ``vector`` arrays and ``vector.obj`` objects.
Angles are between three-momenta; a null momentum gives NaN (no warning).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from belleflow.beams import Machine
from belleflow.kinematics import Direction, to_cm, with_mass

__all__ = [
    "cos_helicity",
    "cos_opening",
    "in_cm",
    "momentum_ratio",
    "opening_angle",
    "per_candidate",
]


def in_cm(
    objects: Any, beam: Machine | Any, her_direction: Direction = None, *, mass: Any = None
) -> Any:
    """The objects (tracks, photons, ...) with their four-momenta in the CM frame.

    Every other field (charge, particle identification, MC links) is kept, so
    the CM objects pair, select and index as the lab ones do.

    Args:
        objects: Awkward records with ``px, py, pz, E`` (e.g. ``ev.Track``).
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
    """
    p4 = objects if mass is None else with_mass(objects, mass)
    cm = to_cm(p4, beam, her_direction)
    for field in ("px", "py", "pz", "E"):
        objects = ak.with_field(objects, cm[field], field)
    return objects


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
    """Per-event values repeated at each of the event's candidates (jagged like ``candidates``).

    Examples:
        >>> import awkward as ak
        >>> per_candidate(ak.Array([1.0, 2.0]), ak.Array([[0.5, 0.5], [0.5]])).tolist()
        [[1.0, 1.0], [2.0]]
    """
    return ak.broadcast_arrays(values, candidates)[0]
