"""Local and global significance of the scan, with the look-elsewhere effect.

The local p-value of each hypothesis comes from its calculator (``q0``
asymptotically, ``P(n >= n_obs | b)`` for exact counting). The global
significance of the largest local excess is given two ways:

- **trials factor**: ``N = integral dm / (k sigma(m))`` independent search
  regions over the scanned range (``k = 2`` by default: hypotheses two
  resolutions apart barely share events), ``p_global = 1 - (1 - p_local)^N``;
- **Gross-Vitells** (arXiv:1005.1891) for one degree of freedom:
  ``p_global = p_local + N(u0) exp(-(u - u0) / 2)``, with ``u = Z_local^2``
  and ``N(u0)`` the number of upcrossings of the local ``Z^2`` curve above
  ``u0 = Z_ref^2`` (``Z_ref = 1``) counted on the observed scan itself.

The reported global p-value is the larger (more conservative) of the two;
both are recorded. For lifetime scans the trials count only mass (curves
at different lifetimes are strongly correlated) and upcrossings are
averaged over the lifetime curves.

Examples:
    >>> g = global_significance([1.0, 1.1, 1.2], [0.5, 3.0, 0.5], [0.05, 0.05, 0.05])
    >>> round(g.z_local, 1), g.trials > 1
    (3.0, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri  # type: ignore[import-untyped]

__all__ = ["GlobalSignificance", "asimov_significance", "global_significance"]


@dataclass(frozen=True)
class GlobalSignificance:
    """The largest local excess and its global significance (see module docstring)."""

    z_local: float
    p_local: float
    mass: float | None
    ctau: float | None
    trials: float
    p_global_trials: float
    upcrossings: float
    p_global_gv: float
    p_global: float
    z_global: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return asdict(self)


def asimov_significance(s: float, b: float) -> float:
    """Median discovery significance for s signal on b background events (Cowan et al.).

    Examples:
        >>> round(asimov_significance(10.0, 100.0), 4)
        0.984
    """
    return math.sqrt(2.0 * ((s + b) * math.log1p(s / b) - s))


def _z(p: float) -> float:
    return max(float(ndtri(1.0 - p)), 0.0) if p > 0 else math.inf


def global_significance(
    masses: Sequence[float],
    z_local: Sequence[float],
    sigmas: Sequence[float],
    *,
    ctaus: Sequence[float] | None = None,
    k: float = 2.0,
    z_ref: float = 1.0,
) -> GlobalSignificance:
    """Global significance of the largest local excess of a scan."""
    m = np.asarray(masses, np.float64)
    z = np.nan_to_num(np.asarray(z_local, np.float64), posinf=40.0)
    sig = np.asarray(sigmas, np.float64)
    c = np.zeros_like(m) if ctaus is None else np.asarray(ctaus, np.float64)
    if m.size == 0:
        msg = "no hypotheses to compute a global significance for"
        raise ValueError(msg)
    best = int(np.argmax(z))
    z_max = float(z[best])
    p_local = float(ndtr(-z_max))
    trials_list, ups = [], []
    for value in np.unique(c):
        sel = c == value
        order = np.argsort(m[sel])
        ms, zs, ss = m[sel][order], z[sel][order], sig[sel][order]
        inv = 1.0 / (k * ss)
        trials_list.append(
            float(np.sum(0.5 * (inv[1:] + inv[:-1]) * np.diff(ms))) if ms.size > 1 else 0.0
        )
        above = zs > z_ref
        ups.append(float(np.sum(above[1:] & ~above[:-1])))
    trials = max(*trials_list, 1.0)
    p_trials = float(-math.expm1(trials * math.log1p(-min(p_local, 1.0 - 1e-16))))
    upcrossings = float(np.mean(ups))
    u, u0 = z_max**2, z_ref**2
    p_gv = min(p_local + upcrossings * math.exp(-(u - u0) / 2.0), 1.0) if z_max > z_ref else 1.0
    p_global = min(max(p_trials, p_gv if upcrossings > 0 else p_trials), 1.0)
    method = "gross-vitells" if upcrossings > 0 and p_gv >= p_trials else "trials"
    return GlobalSignificance(
        z_max,
        p_local,
        float(m[best]),
        float(c[best]),
        trials,
        p_trials,
        upcrossings,
        p_gv,
        p_global,
        _z(p_global),
        method,
    )
