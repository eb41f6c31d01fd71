"""Lorentz transformations as 4x4 matrices on ``(px, py, pz, E)`` components.

The exact lab <-> CM transformation of :mod:`belleflow.beams` and the CM
quantities of :mod:`belleflow.kinematics` are built from these: a boost,
the smallest rotation onto +z, their product and its exact inverse, applied
to the components of any supported Lorentz-vector container (``vector.obj``,
``vector.array``, awkward ``Momentum4D``, flat or jagged). Matrix entries
may be numbers or per-event arrays.

Example:
    >>> m = lab_to_cm_matrix((0.0, 0.0, 3.0, 5.0), None)
    >>> [round(float(x), 12) for x in apply_matrix(m, (0.0, 0.0, 3.0, 5.0))]
    [0.0, 0.0, 0.0, 4.0]
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import vector

__all__ = [
    "apply_matrix",
    "boost_matrix",
    "build",
    "components",
    "lab_to_cm_matrix",
    "lorentz_inverse",
    "matmul",
    "pick_template",
    "rotation_to_z",
]

#: Metric signature in (px, py, pz, E) order, used to invert Lorentz matrices.
_METRIC = (-1.0, -1.0, -1.0, 1.0)


def components(p4: Any) -> tuple[Any, Any, Any, Any]:
    """Return ``(px, py, pz, E)`` of any supported Lorentz-vector container."""
    if isinstance(p4, ak.Array) and "px" in p4.fields:
        # Stored components read as fields: vector's properties dispatch through its
        # coordinate systems even for stored fields, about 20 times slower.
        return p4["px"], p4["py"], p4["pz"], p4["E"]
    try:
        return p4.px, p4.py, p4.pz, p4.E
    except AttributeError:
        msg = (
            f"expected a Momentum4D vector (vector.obj, vector.array or awkward array "
            f"with vector behaviour), got {type(p4).__name__}"
        )
        raise TypeError(msg) from None


def pick_template(*values: Any) -> Any:
    """Choose the container kind of a result: awkward > numpy vector > object."""
    for v in values:
        if isinstance(v, ak.Array):
            return v
    for v in values:
        if isinstance(v, vector.VectorNumpy):
            return v
    return values[0]


def build(template: Any, px: Any, py: Any, pz: Any, e: Any) -> Any:
    """Build a Momentum4D of the same kind as ``template`` from components."""
    if isinstance(template, ak.Array):
        behavior = template.behavior
        if behavior is None or "Momentum4D" not in behavior:
            behavior = vector.backends.awkward.behavior
        return ak.zip(
            {"px": px, "py": py, "pz": pz, "E": e}, with_name="Momentum4D", behavior=behavior
        )
    if isinstance(template, vector.VectorNumpy):
        return vector.array(
            {
                "px": np.asarray(px, dtype=np.float64),
                "py": np.asarray(py, dtype=np.float64),
                "pz": np.asarray(pz, dtype=np.float64),
                "E": np.asarray(e, dtype=np.float64),
            }
        )
    return vector.obj(px=float(px), py=float(py), pz=float(pz), E=float(e))


def apply_matrix(matrix: Any, comps: tuple[Any, Any, Any, Any]) -> tuple[Any, Any, Any, Any]:
    """Apply a 4x4 matrix (numbers or per-event arrays as entries) to components."""
    px, py, pz, e = comps
    rows = tuple(m[0] * px + m[1] * py + m[2] * pz + m[3] * e for m in matrix)
    return rows[0], rows[1], rows[2], rows[3]


def matmul(a: Any, b: Any) -> list[list[Any]]:
    """Product of two 4x4 matrices given as nested sequences (entries may be arrays)."""
    return [[sum(a[i][k] * b[k][j] for k in range(4)) for j in range(4)] for i in range(4)]


def lorentz_inverse(m: Any) -> list[list[Any]]:
    """Exact inverse of a Lorentz matrix: ``g m^T g`` with g = diag(-1, -1, -1, 1)."""
    return [[_METRIC[i] * _METRIC[j] * m[j][i] for j in range(4)] for i in range(4)]


def boost_matrix(bx: Any, by: Any, bz: Any) -> list[list[Any]]:
    """Matrix of the boost *into* the frame moving with velocity beta = (bx, by, bz).

    ``E' = gamma (E - beta.p)``, ``p' = p + (gamma^2/(gamma+1) beta.p - gamma E) beta``.
    ``gamma^2/(gamma+1)`` equals ``(gamma-1)/beta^2`` but is regular at beta = 0.
    """
    b = (bx, by, bz)
    gamma = 1.0 / np.sqrt(1.0 - (bx * bx + by * by + bz * bz))
    k = gamma * gamma / (gamma + 1.0)
    m: list[list[Any]] = [[None] * 4 for _ in range(4)]
    for i in range(3):
        for j in range(3):
            m[i][j] = k * b[i] * b[j] + (1.0 if i == j else 0.0)
        m[i][3] = -gamma * b[i]
        m[3][i] = -gamma * b[i]
    m[3][3] = gamma
    return m


def rotation_to_z(ux: Any, uy: Any, uz: Any) -> list[list[Any]]:
    """4x4 matrix of the smallest rotation taking the direction (ux, uy, uz) onto +z.

    Rodrigues' formula with ``a = u x z = (uy, -ux, 0)`` and ``c = u.z``:
    ``R = c 1 + [a]_x + a a^T / (1 + c)`` (undefined only for u = -z).
    """
    norm = np.sqrt(ux * ux + uy * uy + uz * uz)
    ux, uy, uz = ux / norm, uy / norm, uz / norm
    ax, ay = uy, -ux
    c = uz
    f = 1.0 / (1.0 + c)
    return [
        [c + ax * ax * f, ax * ay * f, ay, 0.0],
        [ax * ay * f, c + ay * ay * f, -ax, 0.0],
        [-ay, ax, c, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]


def lab_to_cm_matrix(
    beam: tuple[Any, Any, Any, Any],
    reference: tuple[Any, Any, Any, Any] | None,
) -> list[list[Any]]:
    """Lab -> CM matrix for a beam sum ``beam`` (components, numbers or arrays).

    Boost by ``-beta`` of ``beam``; if ``reference`` (the e- four-momentum, or a
    light-like ``(n, 1)`` along its direction) is given, then rotate so that its
    CM-frame direction is +z.
    """
    px, py, pz, e = beam
    boost = boost_matrix(px / e, py / e, pz / e)
    if reference is None:
        return boost
    rx, ry, rz, _ = apply_matrix(boost, reference)
    return matmul(rotation_to_z(rx, ry, rz), boost)
