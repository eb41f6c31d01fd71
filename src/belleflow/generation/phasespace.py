"""Vectorised relativistic phase space: boosts, two-body and n-body decays.

All functions work on whole batches of decays at once.  Four-vectors are
numpy arrays of shape ``(n, 4)`` in ``(px, py, pz, E)`` order, GeV.

* :func:`two_body` decays parents into two daughters in the parent rest frame
  (isotropic or with a given ``cos(theta)`` distribution about an axis) and
  boosts them with the parent.
* :func:`n_body` draws flat n-body phase space with the GENBOD (Raubold-Lynch)
  algorithm, unweighted by accept-reject against 1.1 x the largest weight of
  a trial sample (the analytic ROOT ``TGenPhaseSpace`` bound is too loose:
  below 1 % efficiency for five bodies).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = [
    "CosSampler",
    "FloatArray",
    "boost",
    "boost_to_rest",
    "isotropic_cos",
    "kallen_momentum",
    "mass_of",
    "n_body",
    "one_plus_a_cos2",
    "orthonormal_frame",
    "rotate_from_axis",
    "two_body",
]

FloatArray = npt.NDArray[np.float64]

#: Draws ``n`` values of cos(theta) (the rng and n are its arguments).
CosSampler = Callable[[np.random.Generator, int], FloatArray]


def kallen_momentum(m: npt.ArrayLike, m1: npt.ArrayLike, m2: npt.ArrayLike) -> FloatArray:
    """Daughter momentum of a two-body decay ``m -> m1 m2`` in the rest frame of ``m``.

    Below threshold the result is 0 (clipped), never NaN.

    Examples:
        >>> float(kallen_momentum(10.0, 0.0, 0.0))
        5.0
    """
    m_ = np.asarray(m, dtype=np.float64)
    s = m_ * m_
    lam = (s - (np.asarray(m1) + np.asarray(m2)) ** 2) * (
        s - (np.asarray(m1) - np.asarray(m2)) ** 2
    )
    return np.asarray(np.sqrt(np.maximum(lam, 0.0)) / (2.0 * m_), dtype=np.float64)


def mass_of(p: FloatArray) -> FloatArray:
    """Invariant mass of ``(n, 4)`` four-vectors, sqrt(max(m^2, 0))."""
    m2 = p[:, 3] ** 2 - (p[:, 0] ** 2 + p[:, 1] ** 2 + p[:, 2] ** 2)
    return np.asarray(np.sqrt(np.maximum(m2, 0.0)), dtype=np.float64)


def boost(p: FloatArray, beta: FloatArray, gamma: FloatArray | None = None) -> FloatArray:
    """Boost four-vectors ``p`` (n, 4) by velocities ``beta`` (n, 3) (or (3,)).

    A particle at rest becomes a particle moving with velocity ``beta``.
    ``gamma^2/(gamma+1)`` is used instead of ``(gamma-1)/beta^2`` so that
    ``beta = 0`` is regular.  Pass ``gamma`` (E/m) when known: from beta it
    loses precision as 1 - beta^2 -> 0 (an electron of 5 GeV has
    1 - beta^2 ~ 1e-8, so energies would be off by ~1e-8 relative).
    """
    b = np.broadcast_to(beta, (p.shape[0], 3))
    if gamma is None:
        b2 = np.einsum("ij,ij->i", b, b)
        gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.einsum("ij,ij->i", b, p[:, :3])
    k = gamma * gamma / (gamma + 1.0)
    out = np.empty_like(p)
    out[:, :3] = p[:, :3] + (k * bp + gamma * p[:, 3])[:, None] * b
    out[:, 3] = gamma * (p[:, 3] + bp)
    return out


def boost_to_rest(p: FloatArray, frame: FloatArray) -> FloatArray:
    """Express four-vectors ``p`` in the rest frame of the four-vectors ``frame``."""
    return boost(p, -frame[:, :3] / frame[:, 3:4])


def isotropic_cos(rng: np.random.Generator, n: int) -> FloatArray:
    """cos(theta) of isotropic directions."""
    return rng.uniform(-1.0, 1.0, n)


def one_plus_a_cos2(a: float) -> CosSampler:
    """Sampler of ``dN/dcos ~ 1 + a cos^2`` for ``-1 <= a <= 1`` (accept-reject).

    Examples:
        >>> c = one_plus_a_cos2(1.0)(np.random.default_rng(1), 100000)
        >>> abs(float(np.mean(c**2)) - 0.4) < 0.01  # <cos^2> = 2/5 for 1 + cos^2
        True
    """
    if not -1.0 <= a <= 1.0:
        msg = f"1 + a cos^2 needs -1 <= a <= 1, got {a}"
        raise ValueError(msg)
    top = 1.0 + max(a, 0.0)

    def sample(rng: np.random.Generator, n: int) -> FloatArray:
        out = np.empty(n)
        todo = np.arange(n)
        while todo.size:
            c = rng.uniform(-1.0, 1.0, todo.size)
            ok = rng.uniform(0.0, top, todo.size) < 1.0 + a * c * c
            out[todo[ok]] = c[ok]
            todo = todo[~ok]
        return out

    return sample


def orthonormal_frame(axis: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Two unit vectors orthogonal to ``axis`` (n, 3) and the unit axis itself."""
    w = axis / np.linalg.norm(axis, axis=1, keepdims=True)
    # Cross with the coordinate axis least aligned with w: never degenerate.
    helper = np.zeros_like(w)
    helper[np.arange(len(w)), np.argmin(np.abs(w), axis=1)] = 1.0
    u = np.cross(helper, w)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(w, u)
    return u, v, w


def rotate_from_axis(cos: npt.ArrayLike, phi: npt.ArrayLike, axis: FloatArray | None) -> FloatArray:
    """Unit vectors with polar angle ``acos(cos)`` and azimuth ``phi`` about ``axis``.

    ``axis`` None means the z axis.
    """
    cos = np.asarray(cos, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    sin = np.sqrt(np.maximum(1.0 - cos * cos, 0.0))
    local = np.stack((sin * np.cos(phi), sin * np.sin(phi), cos), axis=1)
    if axis is None:
        return local
    u, v, w = orthonormal_frame(axis)
    return np.asarray(
        local[:, :1] * u + local[:, 1:2] * v + local[:, 2:3] * w,
        dtype=np.float64,
    )


def two_body(
    rng: np.random.Generator,
    parent: FloatArray,
    m1: npt.ArrayLike,
    m2: npt.ArrayLike,
    cos_sampler: CosSampler | None = None,
    axis: FloatArray | None = None,
    parent_mass: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Decay ``parent`` (n, 4) into two daughters of masses ``m1``, ``m2``.

    The decay angle is drawn in the parent rest frame: isotropic by default,
    else ``cos(theta)`` from ``cos_sampler`` measured from ``axis`` ((n, 3),
    in the parent rest frame; default the parent's flight direction, the
    helicity axis).  Daughters are returned in the frame of ``parent``.
    ``parent_mass`` (known masses) avoids recomputing them from ``parent``,
    which loses precision for very light, very fast parents.

    Energy and momentum are conserved to rounding: the second daughter is
    built as ``parent - first`` would be, but from its own rest-frame vector
    so that it keeps its mass exactly.
    """
    n = parent.shape[0]
    mp = mass_of(parent) if parent_mass is None else parent_mass
    m1a = np.broadcast_to(np.asarray(m1, dtype=np.float64), (n,))
    m2a = np.broadcast_to(np.asarray(m2, dtype=np.float64), (n,))
    q = kallen_momentum(mp, m1a, m2a)
    cos = isotropic_cos(rng, n) if cos_sampler is None else cos_sampler(rng, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    if cos_sampler is not None and axis is None:
        p3 = parent[:, :3]
        moving = np.einsum("ij,ij->i", p3, p3) > 0.0
        axis = np.where(moving[:, None], p3, np.array([0.0, 0.0, 1.0]))
    direction = rotate_from_axis(cos, phi, axis)
    d1 = np.empty((n, 4))
    d1[:, :3] = q[:, None] * direction
    d1[:, 3] = np.sqrt(q * q + m1a * m1a)
    d2 = np.empty((n, 4))
    d2[:, :3] = -d1[:, :3]
    d2[:, 3] = np.sqrt(q * q + m2a * m2a)
    # Boost with p/E computed from the mass used in the rest frame: gamma up to
    # 1e4 (electrons) would otherwise amplify rounding of E.
    energy = np.sqrt(np.einsum("ij,ij->i", parent[:, :3], parent[:, :3]) + mp * mp)
    beta = parent[:, :3] / energy[:, None]
    gamma = energy / np.where(mp > 0.0, mp, 1.0)
    return boost(d1, beta, gamma), boost(d2, beta, gamma)


def n_body(
    rng: np.random.Generator,
    parent: FloatArray,
    masses: FloatArray,
    max_tries: int = 1000,
) -> FloatArray:
    """Flat n-body phase space (GENBOD), unweighted by accept-reject.

    Args:
        rng: Random generator.
        parent: Parent four-vectors (n, 4); their invariant masses are used.
        masses: Daughter masses, shape (n, k) (per decay) with k >= 2.
        max_tries: Safety limit on accept-reject rounds.

    Returns:
        Daughter four-vectors, shape (n, k, 4), in the frame of ``parent``.

    Raises:
        ValueError: If a parent is below the threshold ``sum(masses)``.
        RuntimeError: If accept-reject does not converge.
    """
    n, k = masses.shape
    mp = mass_of(parent)
    kinetic = mp - masses.sum(axis=1)
    if np.any(kinetic < 0.0):
        msg = "n_body: a parent mass is below the sum of its daughter masses"
        raise ValueError(msg)
    if k == 2:
        a, b = two_body(rng, parent, masses[:, 0], masses[:, 1])
        return np.stack((a, b), axis=1)
    # Upper bound of the weight prod_i p_i(M_{i+1}; M_i, m_{i+1}) (TGenPhaseSpace).
    cum = np.cumsum(masses, axis=1)
    wmax = np.ones(n)
    emmax = kinetic + masses[:, 0]
    emmin = np.zeros(n)
    for i in range(1, k):
        emmin = emmin + masses[:, i - 1]
        emmax = emmax + masses[:, i]
        wmax *= kallen_momentum(emmax, emmin, masses[:, i])
    invariant = np.empty((n, k))
    pd = np.empty((n, k - 1))

    def draw(rows: npt.NDArray[np.int64]) -> tuple[FloatArray, FloatArray, FloatArray]:
        r = np.sort(rng.random((rows.size, k - 2)), axis=1)
        u = np.concatenate((np.zeros((rows.size, 1)), r, np.ones((rows.size, 1))), axis=1)
        inv = u * kinetic[rows, None] + cum[rows]
        p = np.stack(
            [kallen_momentum(inv[:, i + 1], inv[:, i], masses[rows, i + 1]) for i in range(k - 1)],
            axis=1,
        )
        return inv, p, p.prod(axis=1) / np.where(wmax[rows] > 0.0, wmax[rows], 1.0)

    # The analytic bound is loose (efficiency below 1 % for 5 bodies): unweight
    # against 1.1 x the largest of 4000 trial ratios w/wmax instead.  The ratio
    # depends little on the parent mass, so one estimate serves the batch.
    _, _, trial = draw(rng.integers(0, n, 4000))
    ratio_max = 1.1 * float(trial.max()) if trial.max() > 0.0 else 1.0
    todo = np.arange(n)
    for _ in range(max_tries):
        if todo.size == 0:
            break
        inv, p, ratio = draw(todo)
        ok = rng.random(todo.size) * ratio_max <= ratio  # <=: degenerate cases accept
        invariant[todo[ok]] = inv[ok]
        pd[todo[ok]] = p[ok]
        todo = todo[~ok]
    if todo.size:
        msg = "n_body: accept-reject did not converge"
        raise RuntimeError(msg)
    # Build the daughters from the innermost pair outwards in the rest frame.
    out = np.zeros((n, k, 4))
    out[:, 0, 3] = masses[:, 0]
    for i in range(1, k):
        q = pd[:, i - 1]
        cos = rng.uniform(-1.0, 1.0, n)
        phi = rng.uniform(0.0, 2.0 * np.pi, n)
        direction = rotate_from_axis(cos, phi, None)
        new = np.empty((n, 4))
        new[:, :3] = -q[:, None] * direction
        new[:, 3] = np.sqrt(q * q + masses[:, i] ** 2)
        # The first i daughters recoil with momentum +q: boost them together.
        e_sys = np.sqrt(q * q + invariant[:, i - 1] ** 2)
        beta = q[:, None] * direction / e_sys[:, None]
        flat = out[:, :i].reshape(-1, 4)
        out[:, :i] = boost(flat, np.repeat(beta, i, axis=0)).reshape(n, i, 4)
        out[:, i] = new
    flat = out.reshape(-1, 4)
    beta_p = np.repeat(parent[:, :3] / parent[:, 3:4], k, axis=0)
    return boost(flat, beta_p).reshape(n, k, 4)
