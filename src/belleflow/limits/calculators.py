"""CLs upper limits: asymptotic (pyhf likelihood), exact Poisson, and toys.

Three calculators share one result type, :class:`UpperLimit`, with the
observed limit and the expected limits at -2, -1, 0, +1, +2 standard
deviations (ascending), all on the POI (sigma x B in fb):

- **asymptotic**: the profile-likelihood ratio ``qtilde`` of the pyhf
  model with the asymptotic formulae of Cowan, Cranmer, Gross, Vitells
  (arXiv:1007.1727), exactly as ``pyhf.infer.hypotest`` evaluates them.
  Instead of pyhf's generic root finder on full hypotests, the expected
  limits solve ``mu = sigma_A(mu) * (Phi^-1(1 - alpha Phi(N)) + N)`` by a
  fixed point, and the observed one brackets CLs(mu) = alpha with sigma_A
  interpolated between those points: about ten fits instead of ~200.
- **exact**: a single-bin counting experiment with Poisson probabilities
  ``CLs = P(n <= n_obs | s + b) / P(n <= n_obs | b)``, nuisances
  integrated (hybrid Bayesian-frequentist, Cousins-Highland) with a
  log-normal prior on s and b by Gauss-Hermite quadrature; expected
  limits at the quantiles of the background-only count distribution.
- **toys**: pyhf's ``ToyCalculator`` on a grid of POI values, with the
  CLs = alpha crossings interpolated in log(CLs).

:func:`choose_method` picks exact for single-bin models with fewer than
``exact_below`` expected background events, toys for other low-count
models, asymptotic otherwise.

Examples:
    >>> summary = CountingSummary(n_obs=0, s=1.0, b=0.0, log_cov=(0.0, 0.0, 0.0))
    >>> round(exact_upper_limit(summary, cl=0.9).observed, 3)
    2.303
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq  # type: ignore[import-untyped]
from scipy.special import (  # type: ignore[import-untyped]
    gammainc,
    gammaincc,
    gammaln,
    logsumexp,
    ndtr,
    ndtri,
)

from belleflow.limits.significance import z_from_log_p
from belleflow.limits.workspace import CountingSummary, Hypothesis

__all__ = [
    "NSIGMA",
    "AsymptoticCalculator",
    "SignalFit",
    "UpperLimit",
    "choose_method",
    "exact_p0",
    "exact_upper_limit",
    "toys_upper_limit",
]

NSIGMA = (-2, -1, 0, 1, 2)
Method = Literal["asymptotic", "exact", "toys"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class UpperLimit:
    """Observed and expected (-2..+2 sigma, ascending) CLs upper limits on the POI."""

    observed: float
    expected: tuple[float, float, float, float, float]
    method: str
    cl: float


@dataclass(frozen=True)
class SignalFit:
    """Best-fit POI with its profile-likelihood 68 % interval and discovery test."""

    mu_hat: float
    error_low: float
    error_high: float
    p0: float
    z: float


def choose_method(hypothesis: Hypothesis, requested: str, exact_below: float) -> Method:
    """The calculator for one hypothesis (``requested`` may be ``"auto"``).

    Examples:
        >>> from belleflow.limits.workspace import Hypothesis
        >>> h = Hypothesis("x", 1.0, 0.0, {}, CountingSummary(0, 1.0, 0.3, (0, 0, 0)), True)
        >>> choose_method(h, "auto", 5.0)
        'exact'
    """
    if requested == "exact":
        if not hypothesis.single_bin:
            msg = "the exact Poisson calculator needs a single-bin (counting) workspace"
            raise ValueError(msg)
        return "exact"
    if requested in ("asymptotic", "toys"):
        return "asymptotic" if requested == "asymptotic" else "toys"
    if requested != "auto":
        msg = f"unknown calculator {requested!r}"
        raise ValueError(msg)
    if hypothesis.summary.b < exact_below:
        return "exact" if hypothesis.single_bin else "toys"
    return "asymptotic"


# ---------------------------------------------------------------- exact Poisson


@cache
def _hermite(n: int) -> tuple[FloatArray, FloatArray]:
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    return np.asarray(nodes, np.float64), np.asarray(weights / weights.sum(), np.float64)


def _lognormal_nodes(
    log_cov: tuple[float, float, float], n: int = 16
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Quadrature nodes (kappa_s, kappa_b, weight) of the correlated log-normal prior."""
    var_s, cov, var_b = log_cov
    if var_s <= 0 and var_b <= 0:
        one = np.ones(1)
        return one, one, one
    z, w = _hermite(n)
    z1, z2 = (a.ravel() for a in np.meshgrid(z, z, indexing="ij"))
    weight = np.outer(w, w).ravel()
    # Cholesky of the 2x2 covariance, written out so that a zero variance is fine.
    sd_s = math.sqrt(max(var_s, 0.0))
    a = cov / sd_s if sd_s > 0 else 0.0
    c = math.sqrt(max(var_b - a * a, 0.0))
    return np.exp(sd_s * z1), np.exp(a * z1 + c * z2), weight


def _cdf(n: float, rate: FloatArray) -> FloatArray:
    # P(N <= n | rate) = Q(n + 1, rate): also defined for the non-integer n of Asimov data.
    return np.asarray(gammaincc(n + 1.0, rate), np.float64)


def _exact_cls(mu: float, n: float, s: float, b: float, nodes: tuple[FloatArray, ...]) -> float:
    ks, kb, w = nodes
    clb = float(np.sum(w * _cdf(n, b * kb)))
    clsb = float(np.sum(w * _cdf(n, mu * s * ks + b * kb)))
    return clsb / clb if clb > 0 else 0.0


def _solve(fn: Callable[[float], float], start: float, what: str) -> float:
    """Root of a decreasing fn with fn(0) > 0, bracketing upwards from ``start``."""
    at_zero = fn(0.0)
    if not at_zero > 0:
        msg = f"no upper limit for {what}: CLs - alpha at mu = 0 is {at_zero:g}, not positive"
        raise ValueError(msg)
    high = start
    for _ in range(200):
        if fn(high) < 0:
            break
        high *= 2.0
    else:
        msg = "could not bracket the upper limit"
        raise RuntimeError(msg)
    return float(brentq(fn, 0.0, high, xtol=1e-10, rtol=1e-8))


def _bracket_solve(fn: Callable[[float], float], guess: float, factor: float) -> float:
    """Root of a decreasing fn, bracketed geometrically around ``guess``."""
    low = high = guess
    f_low = f_high = fn(guess)
    for _ in range(200):
        if f_high < 0 < f_low:
            break
        if f_high >= 0:
            low, f_low = high, f_high
            high *= factor
            f_high = fn(high)
        else:
            high, f_high = low, f_low
            low /= factor
            f_low = fn(low)
    else:
        msg = "could not bracket the upper limit"
        raise RuntimeError(msg)
    return float(brentq(fn, low, high, rtol=1e-5))


def exact_upper_limit(summary: CountingSummary, cl: float = 0.95) -> UpperLimit:
    """Exact CLs limit on the POI of a counting experiment (see module docstring).

    Examples:
        >>> s = CountingSummary(n_obs=1, s=1.0, b=0.0, log_cov=(0.0, 0.0, 0.0))
        >>> round(exact_upper_limit(s, cl=0.95).observed, 3)
        4.744
    """
    alpha = 1.0 - cl
    s, b = summary.s, summary.b
    nodes = _lognormal_nodes(summary.log_cov)

    def limit(n: float) -> float:
        start = (3.0 + n + 3.0 * math.sqrt(n + b)) / s
        what = f"n = {n:g}, s = {s:g}, b = {b:g}"
        return _solve(lambda mu: _exact_cls(mu, n, s, b, nodes) - alpha, start, what)

    # Expected: the limit is monotonic in n, so its quantiles are the limits at the
    # quantiles of the background-only (prior-averaged) Poisson distribution of n.
    _, kb, w = nodes
    quantiles = ndtr(np.array(NSIGMA, np.float64))
    expected = []
    k = 0
    for q in quantiles:
        while float(np.sum(w * _cdf(k, b * kb))) < q:
            k += 1
        expected.append(limit(float(k)))
    exp5 = (expected[0], expected[1], expected[2], expected[3], expected[4])
    return UpperLimit(limit(summary.n_obs), exp5, "exact", cl)


def exact_p0(summary: CountingSummary) -> tuple[float, float]:
    """Local p-value P(n >= n_obs | b) and significance of a counting experiment.

    The p-value is averaged over the log-normal prior of b in logarithms, so
    that a large excess on a small background has a finite significance
    rather than underflowing to p = 0.

    Raises:
        ValueError: b <= 0 with events observed: the background model is
            missing (the backend floors every window's background above 0).

    Examples:
        >>> p0, z = exact_p0(CountingSummary(n_obs=3, s=1.0, b=0.1, log_cov=(0.0, 0.0, 0.0)))
        >>> f"{p0:.3e}", round(z, 3)
        ('1.547e-04', 3.607)
    """
    n = summary.n_obs
    if n <= 0:
        return 1.0, 0.0
    if summary.b <= 0:
        msg = f"{n:g} events observed on a background of {summary.b:g}: no background model"
        raise ValueError(msg)
    _, kb, w = _lognormal_nodes(summary.log_cov)
    # log P(N >= n | b) = log P(n, b), the regularised lower incomplete gamma function.
    log_terms = np.log(w) + _log_upper_tail(n, summary.b * kb)
    log_p0 = float(logsumexp(log_terms))
    return math.exp(log_p0), z_from_log_p(log_p0)


def _log_upper_tail(n: float, rate: FloatArray) -> FloatArray:
    """log P(N >= n | rate), accurate where the probability underflows (also for non-integer n)."""
    direct = gammainc(n, rate)
    with np.errstate(divide="ignore"):
        logs = np.log(direct)
    tiny = direct < 1e-250
    if np.any(tiny):
        # Leading terms of the series: P(n, x) = x^n e^-x / Gamma(n + 1) * (1 + x/(n+1) + ...).
        x = rate[tiny]
        series = np.log1p(x / (n + 1.0) + x * x / ((n + 1.0) * (n + 2.0)))
        logs[tiny] = n * np.log(x) - x - gammaln(n + 1.0) + series
    return np.asarray(logs, np.float64)


# ---------------------------------------------------------------- asymptotic (pyhf)


def _pyhf() -> Any:
    import pyhf  # noqa: PLC0415 - heavy import, only on the workers that fit

    if pyhf.get_backend()[0].name != "numpy":
        pyhf.set_backend("numpy")
    return pyhf


def _poi_scale(parameters: list[dict[str, Any]], poi: str) -> float:
    """The POI's starting value (its expected order), 1 when the measurement gives none."""
    for parameter in parameters:
        if parameter["name"] == poi and parameter.get("inits"):
            value = abs(float(parameter["inits"][0]))
            return value if value > 0 else 1.0
    return 1.0


#: Modifier data in events, which scale with their sample's data.
_ABSOLUTE = {"staterror", "shapesys"}


def _scaled_modifier(modifier: dict[str, Any], scale: float) -> dict[str, Any]:
    if modifier["type"] in _ABSOLUTE:
        return {**modifier, "data": [scale * x for x in modifier["data"]]}
    if modifier["type"] == "histosys":
        data = {key: [scale * x for x in values] for key, values in modifier["data"].items()}
        return {**modifier, "data": data}
    return modifier


def _scaled_sample(sample: dict[str, Any], poi: str, scale: float) -> dict[str, Any]:
    if not any(m["name"] == poi for m in sample["modifiers"]):
        return sample
    return {
        **sample,
        "data": [scale * x for x in sample["data"]],
        "modifiers": [_scaled_modifier(m, scale) for m in sample["modifiers"]],
    }


def _scaled_parameter(parameter: dict[str, Any], poi: str, scale: float) -> dict[str, Any]:
    if parameter["name"] != poi:
        return parameter
    out = dict(parameter)
    if "bounds" in parameter:
        out["bounds"] = [[b / scale for b in parameter["bounds"][0]]]
    if "inits" in parameter:
        out["inits"] = [v / scale for v in parameter["inits"]]
    return out


def _rescaled(model_spec: dict[str, Any], poi: str, scale: float) -> dict[str, Any]:
    """``model_spec`` with the POI in units of ``scale``: samples it multiplies times ``scale``.

    Examples:
        >>> spec = {"channels": [{"name": "c", "samples": [{"name": "s", "data": [2.0],
        ...     "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]}]}],
        ...     "parameters": [{"name": "mu", "bounds": [[0.0, 100.0]], "inits": [10.0]}]}
        >>> out = _rescaled(spec, "mu", 10.0)
        >>> out["channels"][0]["samples"][0]["data"], out["parameters"][0]
        ([20.0], {'name': 'mu', 'bounds': [[0.0, 10.0]], 'inits': [1.0]})
    """
    if scale == 1.0:
        return model_spec
    channels = [
        {**c, "samples": [_scaled_sample(x, poi, scale) for x in c["samples"]]}
        for c in model_spec["channels"]
    ]
    parameters = [_scaled_parameter(p, poi, scale) for p in model_spec["parameters"]]
    return {**model_spec, "channels": channels, "parameters": parameters}


class AsymptoticCalculator:
    """Asymptotic CLs on a pyhf workspace spec, reusing fits between the quantities.

    Args:
        spec: A pyhf workspace specification (as written by belleflow).
        cl: Confidence level (0.90 or 0.95).
    """

    def __init__(self, spec: dict[str, Any], cl: float = 0.95) -> None:
        pyhf = _pyhf()
        self.cl = cl
        self.alpha = 1.0 - cl
        config_spec = spec["measurements"][0]["config"]
        poi_name = config_spec["poi"]
        # The POI is sigma x B in fb: 1e3-1e5 where a window expects ~1e-2 events per fb,
        # against nuisance parameters of order 1. With that spread of scales scipy's
        # minimiser stops at its starting point in the POI (the gradient along it is
        # 1e-4 of the others) and the free fit fell short of the minimum by up to 0.9 in
        # 2 NLL, lowering every q. The fits therefore run on mu / scale, of order 1.
        self._scale = _poi_scale(config_spec["parameters"], poi_name)
        # Build the model straight from the spec: pyhf.Workspace.model() re-validates the
        # measurement against the schema (~10 ms and a jsonschema warning) on every call.
        model_spec = _rescaled(
            {"channels": spec["channels"], "parameters": config_spec["parameters"]},
            poi_name,
            self._scale,
        )
        self.model = pyhf.Model(model_spec, poi_name=poi_name, validate=False)
        observed = {o["name"]: o["data"] for o in spec["observations"]}
        main = [x for c in self.model.config.channels for x in observed[c]]
        self.data = np.asarray(main + list(self.model.config.auxdata), np.float64)
        config = self.model.config
        self.poi = config.poi_index
        self.init = config.suggested_init()
        self._fit_bounds = config.suggested_bounds()
        #: Parameter bounds, the POI's in fb.
        self.bounds = [list(b) for b in self._fit_bounds]
        self.bounds[self.poi] = [b * self._scale for b in self._fit_bounds[self.poi]]
        self.fixed = config.suggested_fixed()
        self._pyhf = pyhf
        pars, twice_nll = pyhf.infer.mle.fit(
            self.data, self.model, self.init, self._fit_bounds, self.fixed, return_fitted_val=True
        )
        self.mu_hat = float(pars[self.poi]) * self._scale
        self._nll_hat = float(twice_nll)
        asimov, asimov_pars = pyhf.infer.calculators.generate_asimov_data(
            0.0,
            self.data,
            self.model,
            self.init,
            self._fit_bounds,
            self.fixed,
            return_fitted_pars=True,
        )
        self.asimov = asimov
        # The free fit to the background-only Asimov data sits at its generating parameters.
        self._nll_hat_a = float(-2.0 * self.model.logpdf(asimov_pars, asimov)[0])
        self._q_cache: dict[float, float] = {}
        self._sigma_points: dict[float, float] = {}

    @property
    def poi_scale(self) -> float:
        """The unit (fb) of the POI in :attr:`model`: its fits run on ``mu / poi_scale``."""
        return self._scale

    def _twice_nll(self, mu: float, data: Any) -> float:
        """``-2 ln L`` of the fit with the POI fixed at ``mu`` (fb)."""
        bounds = self._fit_bounds
        poi = mu / self._scale
        if poi > bounds[self.poi][1]:
            # The POI range is a guess from the window totals: a fixed-POI fit beyond it
            # (a limit loosened by large uncertainties) widens it rather than fail.
            bounds = [list(b) for b in bounds]
            bounds[self.poi][1] = 2.0 * poi
        _, value = self._pyhf.infer.mle.fixed_poi_fit(
            poi, data, self.model, self.init, bounds, self.fixed, return_fitted_val=True
        )
        return float(value)

    def q_obs(self, mu: float) -> float:
        """``qtilde(mu)`` on the observed data (zero above the best fit)."""
        if mu <= self.mu_hat:
            return 0.0
        if mu not in self._q_cache:
            self._q_cache[mu] = max(self._twice_nll(mu, self.data) - self._nll_hat, 0.0)
        return self._q_cache[mu]

    def sigma(self, mu: float) -> float:
        """Width sigma_A = mu / sqrt(q_mu,A) of the POI estimator, from the Asimov data."""
        if mu not in self._sigma_points:
            q_a = max(self._twice_nll(mu, self.asimov) - self._nll_hat_a, 1e-12)
            self._sigma_points[mu] = mu / math.sqrt(q_a)
        return self._sigma_points[mu]

    def _sigma_interp(self, mu: float) -> float:
        points = sorted(self._sigma_points.items())
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        return float(np.interp(mu, xs, ys))

    def cls(self, mu: float, sigma: float | None = None) -> float:
        """Observed CLs at ``mu`` (qtilde, as pyhf computes it)."""
        sqrt_qa = mu / (self._sigma_interp(mu) if sigma is None else sigma)
        q = self.q_obs(mu)
        sqrt_q = math.sqrt(q)
        if sqrt_q <= sqrt_qa:
            clsb = float(ndtr(-sqrt_q))
            clb = float(ndtr(sqrt_qa - sqrt_q))
        else:
            t = (q - sqrt_qa**2) / (2.0 * sqrt_qa)
            clsb = float(ndtr(-(t + sqrt_qa)))
            clb = float(ndtr(-t))
        return clsb / clb if clb > 0 else 0.0

    def _expected_scale(self) -> float:
        upper = float(self.bounds[self.poi][1])
        return upper / 20.0

    def upper_limit(self) -> UpperLimit:
        """Observed and expected limits."""
        z = {n: float(ndtri(1.0 - self.alpha * ndtr(n))) + n for n in NSIGMA}
        # Expected: fixed point mu = sigma_A(mu) z_N, seeded at the POI scale.
        # sigma_A varies slowly with mu: one exact value near each of the median and
        # the +-2 sigma solutions suffices, the bands in between are interpolated.
        sigma0 = self.sigma(self._expected_scale())
        median = self.sigma(sigma0 * z[0]) * z[0]
        for n in (-2, 2):
            self.sigma(self._sigma_interp(median) * z[n])
        expected = []
        for n in NSIGMA:
            mu_n = median * z[n] / z[0]
            for _ in range(3):
                mu_n = self._sigma_interp(mu_n) * z[n]
            expected.append(mu_n)
        # Observed: bracket CLs = alpha near the asymptotic guess with sigma_A interpolated,
        # then add the exact sigma_A at the root and solve again in a tight bracket.
        guess = max(self.mu_hat, 0.0) + self._sigma_interp(median) * z[0]
        observed = _bracket_solve(lambda mu: self.cls(mu) - self.alpha, guess, 1.25)
        self.sigma(observed)
        observed = _bracket_solve(lambda mu: self.cls(mu) - self.alpha, observed, 1.02)
        exp5 = (expected[0], expected[1], expected[2], expected[3], expected[4])
        return UpperLimit(observed, exp5, "asymptotic", self.cl)

    def discovery(self) -> tuple[float, float]:
        """Local p0 and significance from ``q0`` on the observed data."""
        if self.mu_hat <= 0:
            return 0.5, 0.0
        q0 = max(self._twice_nll(0.0, self.data) - self._nll_hat, 0.0)
        z = math.sqrt(q0)
        return float(ndtr(-z)), z

    def fit(self) -> SignalFit:
        """Best fit with the profile-likelihood interval where 2 Delta NLL = 1.

        The interval is bounded below by the POI's lower bound (negative when the
        caller frees the POI, as the validation's unbiased fits do).
        """
        # The profile is measured against its own value at mu_hat: the free fit's
        # minimum can differ from the fixed-POI fit there by the minimiser's
        # tolerance, and by more than 1 where one of them stops short, which left
        # no sign change to bracket (scipy: "f(a) and f(b) must have different signs").
        reference = self._twice_nll(self.mu_hat, self.data)

        def delta(mu: float) -> float:
            return self._twice_nll(mu, self.data) - reference - 1.0

        lower = float(self.bounds[self.poi][0])
        sigma = self.sigma(max(self.mu_hat, self._expected_scale()))
        high = self.mu_hat + sigma
        while delta(high) < 0:
            high += sigma
        up = float(brentq(delta, self.mu_hat, high, rtol=1e-6))
        low = max(self.mu_hat - sigma, lower)
        while low > lower and delta(low) < 0:
            low = max(low - sigma, lower)
        down = low if delta(low) < 0 else float(brentq(delta, low, self.mu_hat, rtol=1e-6))
        p0, z = self.discovery()
        return SignalFit(self.mu_hat, self.mu_hat - down, up - self.mu_hat, p0, z)


def toys_upper_limit(
    spec: dict[str, Any], cl: float = 0.95, ntoys: int = 1000, seed: int = 0
) -> UpperLimit:
    """CLs limits from pyhf's toy calculator, on a POI grid around the asymptotic limits."""
    pyhf = _pyhf()
    guide = AsymptoticCalculator(spec, cl)
    asym = guide.upper_limit()
    grid = np.unique(
        np.concatenate(
            [np.geomspace(0.5 * asym.expected[0], 2.0 * asym.expected[-1], 7), [asym.observed]]
        )
    )
    # pyhf draws toys from numpy's global generator; seed it for reproducibility.
    np.random.seed(seed)  # noqa: NPY002 - pyhf offers no generator argument
    curves = np.empty((grid.size, 6))
    percentiles = 100.0 * ndtr(np.array(NSIGMA, np.float64))
    for i, mu in enumerate(grid):
        # pyhf 0.7.6's own expected set calls np.percentile(interpolation=...), removed in
        # numpy 2: take the toy distributions and form the expected CLs quantiles here.
        calc = pyhf.infer.calculators.ToyCalculator(
            guide.data, guide.model, test_stat="qtilde", ntoys=ntoys, track_progress=False
        )
        # The guide's model fits mu in units of its POI scale (see AsymptoticCalculator).
        poi = float(mu) / guide.poi_scale
        sb_dist, b_dist = calc.distributions(poi)
        observed = float(calc.pvalues(calc.teststatistic(poi), sb_dist, b_dist)[2])
        b_samples = np.asarray(b_dist.samples, np.float64)
        sb_samples = np.sort(np.asarray(sb_dist.samples, np.float64))
        b_sorted = np.sort(b_samples)
        # p-values of every background-only toy under both hypotheses: P(t >= t_i).
        clsb = 1.0 - np.searchsorted(sb_samples, b_samples, side="left") / sb_samples.size
        clb = 1.0 - np.searchsorted(b_sorted, b_samples, side="left") / b_sorted.size
        cls_toys = np.divide(clsb, clb, out=np.zeros_like(clsb), where=clb > 0)
        curves[i] = [observed, *np.percentile(cls_toys, percentiles)]
    alpha = 1.0 - cl

    def crossing(values: FloatArray) -> float:
        logs = np.log(np.maximum(values, 1e-300)) - math.log(alpha)
        below = np.flatnonzero(logs < 0)
        if below.size == 0:
            return float(grid[-1])
        j = int(below[0])
        if j == 0:
            return float(grid[0])
        x0, x1, y0, y1 = grid[j - 1], grid[j], logs[j - 1], logs[j]
        return float(x0 + (x1 - x0) * y0 / (y0 - y1))

    expected = sorted(crossing(curves[:, k]) for k in range(1, 6))
    exp5 = (expected[0], expected[1], expected[2], expected[3], expected[4])
    return UpperLimit(crossing(curves[:, 0]), exp5, "toys", cl)
