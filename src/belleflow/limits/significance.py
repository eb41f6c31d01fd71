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
from scipy.optimize import brentq  # type: ignore[import-untyped]
from scipy.special import log_ndtr, ndtri  # type: ignore[import-untyped]

__all__ = [
    "GlobalSignificance",
    "asimov_significance",
    "global_significance",
    "z_from_log_p",
    "z_from_p",
]


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


def asimov_significance(s: float, b: float, sigma_b: float = 0.0) -> float:
    """Median discovery significance of s signal on b background events (Cowan et al.).

    With ``sigma_b`` > 0 the background is known to +- ``sigma_b`` only (the
    profile-likelihood Asimov formula of G. Cowan, "Discovery sensitivity for a
    counting experiment with background uncertainty", 2012): the same signal is
    less significant where the background is uncertain.

    Examples:
        >>> round(asimov_significance(10.0, 100.0), 4)
        0.984
        >>> round(asimov_significance(10.0, 100.0, 10.0), 4)
        0.6902
    """
    if sigma_b <= 0.0:
        return math.sqrt(2.0 * ((s + b) * math.log1p(s / b) - s))
    var = sigma_b * sigma_b
    first = (s + b) * math.log((s + b) * (b + var) / (b * b + (s + b) * var))
    second = b * b / var * math.log1p(var * s / (b * (b + var)))
    return math.sqrt(max(2.0 * (first - second), 0.0))


def z_from_log_p(log_p: float) -> float:
    """One-sided significance of a p-value given as its logarithm; finite for any p > 0.

    Below ``p ~ 1e-300`` the p-value itself underflows, its logarithm does
    not: the significance is found from ``log Phi(-z) = log p``.

    Examples:
        >>> round(z_from_log_p(math.log(2.866515718791939e-07)), 4)
        5.0
        >>> round(z_from_log_p(-1000.0), 2)
        44.62
    """
    if log_p >= math.log(0.5):
        return 0.0
    if log_p > -700.0:
        return float(-ndtri(math.exp(log_p)))
    high = math.sqrt(-2.0 * log_p) + 1.0  # log Phi(-z) < -z^2 / 2 brackets the root
    return float(brentq(lambda z: float(log_ndtr(-z)) - log_p, 0.0, high, xtol=1e-10))


def z_from_p(p: float) -> float:
    """One-sided significance ``Phi^-1(1 - p)`` (0 for p >= 0.5).

    Raises:
        ValueError: p is not in (0, 1]: a p-value of exactly 0 means the
            background model is missing, not an infinite significance.
    """
    if not 0.0 < p <= 1.0:
        msg = f"p-value {p!r} is outside (0, 1]: the background model cannot give it"
        raise ValueError(msg)
    return z_from_log_p(math.log(p))


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
    z = np.asarray(z_local, np.float64)
    if not np.all(np.isfinite(z)):
        bad = m[~np.isfinite(z)]
        msg = f"non-finite local significance at {bad.tolist()} GeV: the scan is broken there"
        raise ValueError(msg)
    sig = np.asarray(sigmas, np.float64)
    c = np.zeros_like(m) if ctaus is None else np.asarray(ctaus, np.float64)
    if m.size == 0:
        msg = "no hypotheses to compute a global significance for"
        raise ValueError(msg)
    best = int(np.argmax(z))
    z_max = float(z[best])
    log_p_local = float(log_ndtr(-z_max))
    p_local = math.exp(log_p_local)
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
    # 1 - (1 - p)^N, in logarithms so that tiny p stay finite (-> N p).
    log_p_trials = math.log(-math.expm1(trials * math.log1p(-min(p_local, 0.5))))
    if p_local < 1e-12:
        log_p_trials = math.log(trials) + log_p_local
    upcrossings = float(np.mean(ups))
    u, u0 = z_max**2, z_ref**2
    log_p_gv = 0.0
    if z_max > z_ref and upcrossings > 0:
        log_p_gv = min(float(np.logaddexp(log_p_local, math.log(upcrossings) - (u - u0) / 2)), 0.0)
    use_gv = upcrossings > 0 and log_p_gv >= log_p_trials
    log_p_global = min(log_p_gv if use_gv else log_p_trials, 0.0)
    return GlobalSignificance(
        z_max,
        p_local,
        float(m[best]),
        float(c[best]),
        trials,
        math.exp(log_p_trials),
        upcrossings,
        math.exp(log_p_gv),
        math.exp(log_p_global),
        z_from_log_p(log_p_global),
        "gross-vitells" if use_gv else "trials",
    )
