"""Event kinematics at an e+e- B factory: recoil, missing mass, CM quantities, Mbc, Delta E.

All functions take Lorentz vectors as ``vector.obj`` objects, numpy vector
arrays or awkward arrays with vector's ``Momentum4D`` behaviour (flat or jagged,
coffea NanoEvents vectors included) and return the same kind.  Units are GeV
(and whatever length unit the vertex positions are in).

``beam`` is the four-momentum of the e+e- system in the lab, either a
:class:`belleflow.beams.Machine` (nominal beams) or a per-event Momentum4D (the
``beamPx, beamPy, beamPz, beamE`` branches).  Quantities that depend only on the
boost (``p_cm``, ``mbc``, ``delta_e``, ``missing_energy_cm``) are exact for both.
The CM *axes* (``to_cm``, ``theta_cm``, ``cos_theta_cm``) also need the e-
direction: exact for a ``Machine``; for a per-event beam pass ``her_direction``
(a ``Machine`` or a lab 3-direction), else the lab +z axis is used as the e-
direction (see ``docs/kinematics.md``).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import awkward as ak
import numpy as np
import vector
from particle import Particle
from particle.particle import InvalidParticle, ParticleNotFound

from belleflow.beams import Machine
from belleflow.lorentz import (
    apply_matrix,
    build,
    components,
    lab_to_cm_matrix,
    lorentz_inverse,
    pick_template,
)

__all__ = [
    "Direction",
    "beam_p4",
    "cos_pointing_angle",
    "cos_theta_cm",
    "delta_e",
    "flight_direction_angle",
    "invariant_mass",
    "mass",
    "mbc",
    "missing_energy_cm",
    "missing_mass2",
    "missing_p4",
    "p_cm",
    "recoil",
    "recoil_mass",
    "recoil_mass2",
    "theta_cm",
    "to_cm",
    "to_lab",
    "transverse_distance",
    "with_mass",
]

#: The e- beam direction of a per-event beam: a Machine, a lab 3-direction, or None (lab +z).
Direction = Machine | tuple[float, float, float] | None
_P4 = ("px", "py", "pz", "E")


def _m2(px: Any, py: Any, pz: Any, e: Any) -> Any:
    return e * e - (px * px + py * py + pz * pz)


def _sqrt0(x: Any) -> Any:
    """sqrt(max(x, 0)), elementwise."""
    return np.sqrt(np.maximum(x, 0.0))


def beam_p4(beam: Machine | Any) -> Any:
    """Return the e+e- four-momentum in the lab as a Momentum4D.

    Args:
        beam: A :class:`~belleflow.beams.Machine` (gives ``machine.beam_p4``) or a
            per-event Momentum4D array/object (returned unchanged).

    Raises:
        TypeError: If ``beam`` is neither.
    """
    if isinstance(beam, Machine):
        return beam.beam_p4
    components(beam)  # validates
    return beam


def _beam_components(beam: Machine | Any) -> tuple[Any, Any, Any, Any]:
    return components(beam_p4(beam))


def _reference(beam: Machine | Any, her_direction: Direction) -> tuple[Any, Any, Any, Any]:
    """Lab four-vector whose CM direction defines +z."""
    if isinstance(beam, Machine):
        if her_direction is not None:
            msg = "her_direction is only for per-event beams; a Machine defines its own"
            raise ValueError(msg)
        return components(beam.her_p4)
    if isinstance(her_direction, Machine):
        return components(her_direction.her_p4)
    nx, ny, nz = (0.0, 0.0, 1.0) if her_direction is None else her_direction
    n = math.sqrt(nx * nx + ny * ny + nz * nz)
    return nx / n, ny / n, nz / n, 1.0  # light-like


def _plain(layout: Any) -> bool:
    """Numbers in at most one level of lists, no missing values: flattening loses nothing."""
    depth = 0
    while not layout.is_numpy:
        if layout.is_option or layout.is_union or layout.is_record or depth > 1:
            return False
        depth += layout.is_list
        layout = layout.content
    return True


class _Flat:
    """Four-vectors as one flat NumPy ``vector`` array (vector's arithmetic without awkward's
    per-call overhead), with per-event values spread over them and results put back in shape.
    """

    def __init__(self, p4: Any) -> None:
        self.counts: Any = None
        comps = components(p4)
        if not isinstance(comps[0], ak.Array):
            self.vectors = p4
            return
        if comps[0].ndim > 1:
            self.counts = ak.to_numpy(ak.num(comps[0], axis=1))
            comps = tuple(ak.flatten(c, axis=1) for c in comps)
        self.vectors = vector.array(
            {
                c: np.asarray(ak.to_numpy(v), dtype=np.float64)
                for c, v in zip(_P4, comps, strict=True)
            }
        )

    @staticmethod
    def supports(p4: Any) -> bool:
        """Whether ``p4`` is a vector container, or awkward this class can flatten and restore."""
        px = components(p4)[0]
        return not isinstance(px, ak.Array) or _plain(px.layout)

    def spread(self, values: Any) -> Any:
        """Per-event values (a number, NumPy or awkward) at each four-vector."""
        if np.ndim(values) == 0 and not isinstance(values, ak.Array):
            return values
        values = np.asarray(values, dtype=np.float64)
        return values if self.counts is None else np.repeat(values, self.counts)

    def restore(self, values: Any) -> Any:
        """Flat results in the shape of the four-vectors."""
        return ak.unflatten(values, self.counts) if self.counts is not None else values


def _lab_to_cm(
    p4: Any, beam: Any, axes: tuple[Any, Any] | None = None
) -> tuple[Any, Any, Any, Any]:
    """Components of ``p4`` boosted into the rest frame of ``beam`` and, with ``axes``
    (per-event polar and azimuthal angles of the new +z), rotated: vector on flat arrays."""
    if not _Flat.supports(p4):
        # Missing values or deeper lists: vector on the awkward arrays themselves.
        return _lab_to_cm_awkward(p4, beam, axes)
    flat = _Flat(p4)
    # The CM velocity per event, spread over the four-vectors: a boost by -beta
    # is vector's boostCM_of_p4(beam) at a third of its cost (that one builds
    # the whole Lorentz matrix at every four-vector).
    bx, by, bz, e = components(beam)
    beta: Any
    if isinstance(beam, vector.VectorObject):
        beta = vector.obj(x=-bx / e, y=-by / e, z=-bz / e)
    else:
        e = np.asarray(e, dtype=np.float64)
        beta = vector.array(
            {c: flat.spread(-np.asarray(v) / e) for c, v in zip("xyz", (bx, by, bz), strict=True)}
        )
    out = flat.vectors.boost_beta3(beta)
    if axes is not None:
        out = _rotate(out, *(flat.spread(a) for a in axes))
    px, py, pz, energy = (flat.restore(getattr(out, c)) for c in _P4)
    return px, py, pz, energy


def _lab_to_cm_awkward(
    p4: Any, beam: Any, axes: tuple[Any, Any] | None
) -> tuple[Any, Any, Any, Any]:
    behavior = vector.backends.awkward.behavior
    p4_v = ak.zip(
        dict(zip(_P4, components(p4), strict=True)), with_name="Momentum4D", behavior=behavior
    )
    if not isinstance(beam, vector.VectorObject):
        comps = (ak.Array(np.asarray(c, dtype=np.float64)) for c in components(beam))
        beam = ak.zip(dict(zip(_P4, comps, strict=True)), with_name="Momentum4D", behavior=behavior)
    out = p4_v.boost_beta3(-beam.to_beta3())
    if axes is not None:
        out = _rotate(out, *axes)
    return out["x"], out["y"], out["z"], out["t"]


def _rotate(p4: Any, theta: Any, phi: Any) -> Any:
    """The rotation taking the direction at polar angle ``theta``, azimuth ``phi`` onto +z."""
    if np.any(phi != 0.0):
        # The smallest rotation onto +z, about an axis in the x-y plane.
        return p4.rotateZ(-phi).rotateY(-theta).rotateZ(phi)
    # The e- direction in the x-z plane (the B factories): one rotation about y.
    return p4.rotateY(-theta)


def _boost_to_cm(p4: Any, beam: Machine | Any) -> tuple[Any, Any, Any, Any]:
    """Components of ``p4`` boosted to the CM frame (no rotation)."""
    return _lab_to_cm(p4, beam_p4(beam))


def _cm_axes(beam: Any, her_direction: Direction) -> tuple[Any, Any]:
    """Polar and azimuthal angle of the e- direction in the CM frame of each event's ``beam``."""
    x, y, z, e = (np.asarray(c, dtype=np.float64) for c in components(beam))
    shape = np.broadcast(x, y, z, e).shape
    rx, ry, rz, re = _reference(beam, her_direction)
    reference: Any = vector.array(
        {
            c: np.full(shape or 1, r, dtype=np.float64)
            for c, r in zip(_P4, (rx, ry, rz, re), strict=True)
        }
    )
    frame = vector.array(
        {c: np.broadcast_to(v, shape or 1) for c, v in zip(_P4, (x, y, z, e), strict=True)}
    )
    direction = reference.boostCM_of_p4(frame)
    theta = np.arctan2(np.hypot(direction.px, direction.py), direction.pz)
    phi = np.arctan2(direction.py, direction.px)
    return (theta, phi) if shape else (float(theta[0]), float(phi[0]))


def invariant_mass(*p4s: Any) -> Any:
    """Invariant mass of the sum of four-vectors, sqrt(max(m^2, 0)).

    Examples:
        >>> import vector
        >>> a = vector.obj(px=1.0, py=0.0, pz=0.0, E=1.0)
        >>> b = vector.obj(px=-1.0, py=0.0, pz=0.0, E=1.0)
        >>> float(invariant_mass(a, b))
        2.0
    """
    if not p4s:
        msg = "invariant_mass needs at least one four-vector"
        raise ValueError(msg)
    comps = [components(p) for p in p4s]
    total = [sum(c[i] for c in comps) for i in range(4)]
    return _sqrt0(_m2(*total))


def recoil(p4: Any, beam: Machine | Any) -> Any:
    """Recoil four-vector ``beam - p4`` in the lab."""
    b = _beam_components(beam)
    c = components(p4)
    return build(pick_template(p4, beam), *(b[i] - c[i] for i in range(4)))


def recoil_mass2(p4: Any, beam: Machine | Any) -> Any:
    """Squared recoil mass (basf2 ``m2Recoil``), can be negative from resolution."""
    b = _beam_components(beam)
    c = components(p4)
    return _m2(*(b[i] - c[i] for i in range(4)))


def recoil_mass(p4: Any, beam: Machine | Any) -> Any:
    """Recoil mass sqrt(max(m2Recoil, 0)).

    Unlike basf2 ``mRecoil`` (which returns -sqrt(-m2) for m2 < 0) negative
    squared masses are clipped to 0: use :func:`recoil_mass2` to keep them.

    Examples:
        >>> import vector
        >>> from belleflow.beams import SUPERKEKB
        >>> k = SUPERKEKB.ecms / 2  # a photon of E* = sqrt(s)/2 recoils against a massless system
        >>> gamma = SUPERKEKB.to_lab(vector.obj(px=k, py=0.0, pz=0.0, E=k))
        >>> round(float(recoil_mass(gamma, SUPERKEKB)), 6)
        0.0
        >>> gamma = SUPERKEKB.to_lab(vector.obj(px=0.0, py=0.0, pz=1.0, E=1.0))  # E* = 1 GeV
        >>> s = SUPERKEKB.ecms**2
        >>> bool(abs(recoil_mass2(gamma, SUPERKEKB) - (s - 2 * s**0.5)) < 1e-9)  # s - 2 sqrt(s) E*
        True
    """
    return _sqrt0(recoil_mass2(p4, beam))


def _sum_visible(visible: Any) -> tuple[Any, Any, Any, Any]:
    comps = components(visible)
    if isinstance(visible, ak.Array) and visible.ndim > 1:
        return (
            ak.sum(comps[0], axis=-1),
            ak.sum(comps[1], axis=-1),
            ak.sum(comps[2], axis=-1),
            ak.sum(comps[3], axis=-1),
        )
    return comps


def missing_p4(visible: Any, beam: Machine | Any) -> Any:
    """Missing four-momentum ``beam - sum(visible)`` in the lab.

    ``visible`` is the visible four-momentum per event, or a jagged awkward
    array of the visible particles of each event (summed over the last axis).
    """
    v = _sum_visible(visible)
    b = _beam_components(beam)
    return build(pick_template(visible, beam), *(b[i] - v[i] for i in range(4)))


def missing_mass2(visible: Any, beam: Machine | Any) -> Any:
    """Squared missing mass of ``beam - sum(visible)``."""
    v = _sum_visible(visible)
    b = _beam_components(beam)
    return _m2(*(b[i] - v[i] for i in range(4)))


def missing_energy_cm(visible: Any, beam: Machine | Any) -> Any:
    """Missing energy in the CM frame, ``sqrt(s) - E*_visible``."""
    v = _sum_visible(visible)
    bc = _beam_components(beam)
    e_vis = _boost_to_cm(build(pick_template(visible, beam), *v), beam)[3]
    return _sqrt0(_m2(*bc)) - e_vis


def to_cm(p4: Any, beam: Machine | Any, her_direction: Direction = None) -> Any:
    """Transform lab four-vectors to the CM frame (+z along the e- beam).

    Args:
        p4: Lab four-vectors.
        beam: A Machine (exact) or per-event beam four-momentum.
        her_direction: For a per-event beam only: lab direction of the e- beam,
            as a Machine (its HER four-momentum) or a 3-tuple; default lab +z.
    """
    if isinstance(beam, Machine):
        _reference(beam, her_direction)  # rejects her_direction
        return beam.to_cm(p4)
    axes = _cm_axes(beam, her_direction)
    return build(pick_template(p4, beam), *_lab_to_cm(p4, beam, axes))


def to_lab(p4: Any, beam: Machine | Any, her_direction: Direction = None) -> Any:
    """Inverse of :func:`to_cm`: CM four-vectors to the lab frame."""
    if isinstance(beam, Machine):
        _reference(beam, her_direction)
        return beam.to_lab(p4)
    m = lab_to_cm_matrix(_beam_components(beam), _reference(beam, her_direction))
    return build(pick_template(p4, beam), *apply_matrix(lorentz_inverse(m), components(p4)))


def cos_theta_cm(p4: Any, beam: Machine | Any, her_direction: Direction = None) -> Any:
    """Cosine of the CM polar angle to the e- beam axis."""
    c = components(to_cm(p4, beam, her_direction))
    with np.errstate(invalid="ignore", divide="ignore"):
        return c[2] / np.sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2])


def theta_cm(p4: Any, beam: Machine | Any, her_direction: Direction = None) -> Any:
    """CM polar angle (rad) to the e- beam axis."""
    c = components(to_cm(p4, beam, her_direction))
    return np.arctan2(np.sqrt(c[0] * c[0] + c[1] * c[1]), c[2])


def p_cm(p4: Any, beam: Machine | Any) -> Any:
    """Momentum magnitude in the CM frame."""
    px, py, pz, _ = _boost_to_cm(p4, beam)
    return np.sqrt(px * px + py * py + pz * pz)


def mbc(p4_b: Any, beam: Machine | Any) -> Any:
    """Beam-constrained mass ``sqrt(E*_beam^2 - |p*_B|^2)``, ``E*_beam = sqrt(s)/2``.

    Clipped at 0 for unphysical candidates (basf2 would return -sqrt(-m2)).
    """
    px, py, pz, _ = _boost_to_cm(p4_b, beam)
    e_beam = 0.5 * _sqrt0(_m2(*_beam_components(beam)))
    return _sqrt0(e_beam * e_beam - (px * px + py * py + pz * pz))


def delta_e(p4_b: Any, beam: Machine | Any) -> Any:
    """Energy difference ``E*_B - sqrt(s)/2`` in the CM frame."""
    e_cm = _boost_to_cm(p4_b, beam)[3]
    return e_cm - 0.5 * _sqrt0(_m2(*_beam_components(beam)))


def transverse_distance(x: Any, y: Any) -> Any:
    """Distance of a vertex from the beam (z) axis, ``sqrt(x^2 + y^2)``."""
    return np.sqrt(x * x + y * y)


def cos_pointing_angle(x: Any, y: Any, z: Any, px: Any, py: Any, pz: Any) -> Any:
    """Cosine of the angle between a vertex's momentum and its flight direction from the IP.

    NaN for a vertex at the IP or a null momentum.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (x * px + y * py + z * pz) / np.sqrt(
            (x * x + y * y + z * z) * (px * px + py * py + pz * pz)
        )
    return np.minimum(np.maximum(cos, -1.0), 1.0)  # ufuncs: awkward-safe, unlike np.clip


def flight_direction_angle(x: Any, y: Any, z: Any, px: Any, py: Any, pz: Any) -> Any:
    """Angle (rad) between a vertex's momentum and its flight direction from the IP.

    Examples:
        >>> float(flight_direction_angle(1.0, 0.0, 0.0, 0.0, 2.0, 0.0))  # doctest: +ELLIPSIS
        1.5707963...
    """
    return np.arccos(cos_pointing_angle(x, y, z, px, py, pz))


@functools.cache
def mass(particle: str | int) -> float:
    """Mass in GeV from the ``particle`` package (PDG), by name or PDG id.

    Raises:
        ValueError: Unknown particle or no known mass.

    Examples:
        >>> round(mass("mu-"), 6)
        0.105658
        >>> mass(13) == mass("mu-")
        True
    """
    try:
        p = (
            Particle.from_pdgid(particle)
            if isinstance(particle, int)
            else Particle.from_name(particle)
        )
    except (InvalidParticle, ParticleNotFound) as err:
        msg = f"unknown particle {particle!r}"
        raise ValueError(msg) from err
    if p.mass is None:
        msg = f"particle {particle!r} has no known mass"
        raise ValueError(msg)
    return float(p.mass) / 1000.0


def with_mass(p4: Any, m: Any) -> Any:
    """Same 3-momentum, energy recomputed for mass ``m`` (GeV; number or array).

    Examples:
        >>> import vector
        >>> t = with_mass(vector.obj(px=0.0, py=0.0, pz=1.0, E=1.0), mass("mu-"))
        >>> round(float(t.mass), 6)
        0.105658
    """
    px, py, pz, _ = components(p4)
    return build(p4, px, py, pz, np.sqrt(px * px + py * py + pz * pz + m * m))
