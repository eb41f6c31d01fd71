"""The signal windows of a scan and the backend's answer for any count observed in one.

Every channel's statistical model is a counting experiment per hypothesis:
one bin, the events within ``window * sigma(m)`` of the mass. A
pseudo-experiment therefore only needs the number of events in each window,
and the backend's answer (limits, local Z) depends on nothing else. This
module finds each hypothesis's window bins in the run's histogram (with the
builder's :func:`~belleflow.limits.workspace.model_window`: bin centres
inside the window, else the bin holding the mass) and evaluates a hypothesis at any observed count with the backend's
own :func:`~belleflow.limits.scan.evaluate`, once per distinct count: a
thousand Poisson toys of a window with 3 expected events take about ten
evaluations.

Examples:
    >>> from belleflow.limits.workspace import CountingSummary, Hypothesis
    >>> h = Hypothesis("s_m1_ctau0", 1.0, 0.0, {}, CountingSummary(0, 2.0, 0.5, (0, 0, 0)), True)
    >>> window = WindowEvaluator(h, cl=0.9)
    >>> window.mu_hat(3)
    1.25
    >>> round(window(0).observed, 3) == round(window(0).observed, 3)
    True
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq  # type: ignore[import-untyped]

from belleflow.limits.background import floor_estimate, resolution_units, usable_bins
from belleflow.limits.calculators import AsymptoticCalculator
from belleflow.limits.histograms import HistogramTable
from belleflow.limits.model import StatModel
from belleflow.limits.scan import PointResult, ScanSettings, evaluate
from belleflow.limits.workspace import Hypothesis, model_window

__all__ = [
    "WindowEvaluator",
    "background_per_bin",
    "background_variance_per_bin",
    "poisson_interval",
    "smoothed_background_per_bin",
    "window_bins",
    "with_count",
]

FloatArray = npt.NDArray[np.float64]


def window_bins(model: StatModel, edges: FloatArray, mass: float) -> tuple[int, int]:
    """First and last bin (inclusive) of the window the workspace builder sums at ``mass``.

    Examples:
        >>> from belleflow.limits.model import Resolution
        >>> m = StatModel(channel="c", observable="m", mass_range=(1.0, 2.0),
        ...               resolution=Resolution(polynomial=[0.1]), signal_model="s", window=2.0)
        >>> window_bins(m, np.linspace(0.0, 3.0, 31), 1.5)
        (13, 16)
    """
    inside = model_window(model, edges, mass)
    return int(inside[0]), int(inside[-1])


def background_per_bin(table: HistogramTable) -> FloatArray:
    """Expected background events per bin: the sum of the simulated processes (>= 0)."""
    total = np.zeros(table.edges.size - 1)
    for process in table.background_processes():
        total += table.get(process)
    return np.maximum(total, 0.0)


def background_variance_per_bin(model: StatModel, table: HistogramTable) -> FloatArray:
    """MC-statistics variance of the simulated background per bin, where it is sparse too.

    The simulated count of a process in a bin is a Poisson number of events of its
    per-event weight ``w``, so its variance is ``w`` times the expected yield. The
    sum of squared weights of the events present estimates that, except where few or
    none are present: an empty bin would claim to be known exactly. So each process
    contributes the larger of its sum of squared weights and ``w`` times its smoothed
    yield (:func:`smoothed_background_per_bin`), ``w`` its mean per-event weight.
    Where no process has any event, the backend's floor (``background.floor_weight``)
    gives the variance in the same way.
    """
    u_edges = resolution_units(table.edges, model.resolution)
    usable = usable_bins(table.edges, model.vetoed)
    total = np.zeros(table.edges.size - 1)
    for values, var in _background_processes(table):
        weight = float(var.sum()) / float(values.sum()) if values.sum() > 0 else 0.0
        smoothed = _smoothed_process(values, var, u_edges, usable, model.background.min_events)
        total += np.maximum(var, weight * smoothed)
    floor = model.background.floor_weight
    if not np.any(total > 0) and floor is not None:
        # No simulated event anywhere: the backend's floor, one event of the largest
        # weight spread over the spectrum, is what the simulation could have missed.
        every = np.arange(total.size)
        total += floor * floor_estimate(every, u_edges=u_edges, usable=usable, weight=floor).values
    return total


def _background_processes(table: HistogramTable) -> list[tuple[FloatArray, FloatArray]]:
    """Per simulated background process: its yields (>= 0) and their variances."""
    out = []
    for process in table.background_processes():
        values = np.maximum(table.get(process), 0.0)
        variance = table.variance(process)
        has_var = variance is not None and float(variance.sum()) > 0
        out.append((values, variance if has_var and variance is not None else values))
    return out


def _smoothed_process(
    values: FloatArray,
    variances: FloatArray,
    u_edges: FloatArray,
    usable: npt.NDArray[np.bool_],
    min_events: float,
) -> FloatArray:
    """One process's expected events per bin, each bin estimated as a one-bin window.

    The backend's own estimator (:func:`~belleflow.limits.background.estimate_window`)
    applied to every bin at once: a bin with ``min_events`` effective simulated events
    keeps its content; a sparser one gets the density of the smallest neighbourhood,
    widened in steps of two around it in resolution units, that holds ``min_events``
    (or the whole spectrum).
    """
    if min_events <= 0:
        return values  # the backend never smooths then
    du = np.diff(u_edges)
    centres = 0.5 * (u_edges[1:] + u_edges[:-1])
    span = float(u_edges[-1] - u_edges[0])

    def cumulative(x: FloatArray) -> FloatArray:
        return np.concatenate([[0.0], np.cumsum(np.where(usable, x, 0.0))])

    cum_w, cum_v, cum_u = cumulative(values), cumulative(variances), cumulative(du)
    # A bin itself always belongs to its neighbourhood, usable or not.
    own = np.where(usable, 0.0, 1.0)

    def n_effective(w: FloatArray, v: FloatArray) -> FloatArray:
        return np.divide(w * w, v, out=np.zeros_like(w), where=v > 0)

    dense = (values > 0) & (n_effective(values, variances) >= min_events)
    out = np.where(dense, values, 0.0)
    pending = ~dense
    reach = 0.5 * du
    while np.any(pending):
        reach = reach * 2.0
        lo = np.searchsorted(centres, centres - reach, side="left")
        hi = np.searchsorted(centres, centres + reach, side="right")
        w = cum_w[hi] - cum_w[lo] + own * values
        v = cum_v[hi] - cum_v[lo] + own * variances
        width = cum_u[hi] - cum_u[lo] + own * du
        done = pending & ((n_effective(w, v) >= min_events) | (reach >= span))
        density = np.divide(w, width, out=np.zeros_like(w), where=(width > 0) & (w > 0))
        out = np.where(done, density * du, out)
        pending &= ~done
    return np.asarray(out, np.float64)


def smoothed_background_per_bin(model: StatModel, table: HistogramTable) -> FloatArray:
    """Expected background per bin: the simulation, smoothed where it is sparse.

    A bin holding one simulated event of weight 1 is one possible data set, not the
    expected background there: Poisson toys around it would plant a one-event
    "resonance" that no background model should describe. So each process is
    estimated per bin as the backend estimates a sparse window
    (``model.background.min_events``). A process dense enough to give every window
    ``min_events`` effective events on average is kept as it is: smoothing only its bins
    that fluctuated low would bias it upwards (measured: `gamma_alp` at 6 GeV, 93.8
    expected events against 79.1 simulated).

    Examples:
        >>> from belleflow.limits.model import Resolution
        >>> m = StatModel(channel="c", observable="m", mass_range=(0.0, 10.0),
        ...               resolution=Resolution(polynomial=[0.1]), signal_model="s")
        >>> edges = np.linspace(0.0, 10.0, 101)
        >>> one = np.zeros(100); one[40] = 1.0
        >>> table = HistogramTable(edges, {("bkg", "nominal"): one}, {("bkg", "nominal"): one})
        >>> truth = smoothed_background_per_bin(m, table)
        >>> round(float(truth.sum()), 6), round(float(truth.max()), 3)
        (1.0, 0.01)
    """
    u_edges = resolution_units(table.edges, model.resolution)
    usable = usable_bins(table.edges, model.vetoed)
    # A process with min_events effective events per window on average is kept as it is:
    # smoothing only its bins that fluctuated low would bias it upwards.
    windows = float(u_edges[-1] - u_edges[0]) / (2.0 * model.window)
    total = np.zeros(table.edges.size - 1)
    for values, var in _background_processes(table):
        n_eff = float(values.sum()) ** 2 / float(var.sum()) if var.sum() > 0 else 0.0
        if n_eff >= model.background.min_events * windows:
            total += values
        else:
            total += _smoothed_process(values, var, u_edges, usable, model.background.min_events)
    return total


def _check_counting(hypothesis: Hypothesis) -> None:
    spec = hypothesis.spec
    if spec and (len(spec.get("channels", [])) != 1 or not hypothesis.single_bin):
        msg = (
            f"{hypothesis.name}: the validation toys need a single-bin counting workspace "
            f"(one channel, one bin); this one has {len(spec['channels'])} channel(s)"
        )
        raise ValueError(msg)


def with_count(hypothesis: Hypothesis, n: float) -> Hypothesis:
    """The hypothesis with ``n`` events observed in its window (workspace and summary)."""
    _check_counting(hypothesis)
    spec = copy.deepcopy(hypothesis.spec)
    if spec:
        spec["observations"][0]["data"] = [float(n)]
    summary = dataclasses.replace(hypothesis.summary, n_obs=float(n))
    return dataclasses.replace(hypothesis, spec=spec, summary=summary)


def poisson_interval(n: int) -> tuple[float, float]:
    """The expected counts where ``2 Delta ln L = 1`` for ``n`` observed (Poisson likelihood).

    Examples:
        >>> [round(x, 3) for x in poisson_interval(0)]
        [0.0, 0.5]
        >>> [round(x, 2) for x in poisson_interval(100)]
        [90.33, 110.34]
    """

    def excess(lam: float) -> float:
        # 2 (lam - n - n ln(lam / n)) - 1, with 0 ln 0 = 0.
        log_term = n * math.log(lam / n) if n > 0 else 0.0
        return 2.0 * (lam - n - log_term) - 1.0

    high = float(brentq(excess, n + 1e-12, n + 2.0 * math.sqrt(n + 1.0) + 2.0))
    low = float(brentq(excess, 1e-300, n - 1e-12)) if n > 0 else 0.0
    return low, high


def _free_poi(spec: dict[str, Any], lower: float) -> dict[str, Any]:
    """A copy of ``spec`` whose POI may go down to ``lower`` (an unbiased, unbounded fit)."""
    out = copy.deepcopy(spec)
    config = out["measurements"][0]["config"]
    for parameter in config["parameters"]:
        if parameter["name"] == config["poi"]:
            parameter["bounds"] = [[lower, parameter["bounds"][0][1]]]
            parameter["inits"] = [max(parameter.get("inits", [0.0])[0], 0.0)]
    return out


class WindowEvaluator:
    """The backend's results for one hypothesis at any observed count, each count once.

    Args:
        hypothesis: A single-bin counting hypothesis of the scan.
        cl: Confidence level of the limits.
        settings: Calculator settings (default: ``ScanSettings(cl)``).
    """

    def __init__(
        self, hypothesis: Hypothesis, cl: float = 0.95, settings: ScanSettings | None = None
    ) -> None:
        _check_counting(hypothesis)
        self.hypothesis = hypothesis
        self.settings = settings or ScanSettings(cl=cl)
        self._results: dict[int, PointResult] = {}
        self._errors: dict[int, tuple[float, float]] = {}

    @property
    def s(self) -> float:
        """Signal events per fb of sigma x B the model expects in the window."""
        return self.hypothesis.summary.s

    @property
    def b(self) -> float:
        """Background events the model expects in the window."""
        return self.hypothesis.summary.b

    def __call__(self, n: int) -> PointResult:
        """:func:`~belleflow.limits.scan.evaluate` with ``n`` events observed."""
        key = int(n)
        if key not in self._results:
            self._results[key] = evaluate(with_count(self.hypothesis, key), self.settings)
        return self._results[key]

    def observed(self, n: int) -> float:
        """Observed limit (sigma x B, fb) with ``n`` events."""
        return self(n).observed

    def z_local(self, n: int) -> float:
        """Local significance of ``n`` events."""
        return self(n).z_local

    def mu_hat(self, n: int | npt.NDArray[np.int64]) -> Any:
        """Maximum-likelihood sigma x B (fb) for ``n`` events, not clipped at zero.

        For one bin the profile likelihood peaks where the prediction meets
        the count with every nuisance at its nominal value: ``(n - b) / s``,
        the backend's exact estimator before it clips negative values for
        reporting. A clipped estimator is biased upwards by construction.
        """
        return (n - self.b) / self.s

    def errors(self, n: int) -> tuple[float, float]:
        """Lower and upper 68 % errors on sigma x B for ``n`` events, as the backend fits them.

        Windows the backend evaluates with pyhf (asymptotic) use the profile-
        likelihood interval of ``AsymptoticCalculator.fit`` with the POI free
        down to ``-b/s``. Exact-counting windows (few or no background events,
        where a pyhf fit degenerates) use the interval of the Poisson
        likelihood, ``2 Delta ln L = 1`` in the expected count, widened by the
        relative uncertainties of s and b the exact calculator integrates over.
        """
        key = int(n)
        if key not in self._errors:
            if self(key).method == "exact":
                self._errors[key] = self._counting_errors(key)
            else:
                lower = -0.999 * self.b / self.s if self.b > 0 else 0.0
                spec = _free_poi(with_count(self.hypothesis, key).spec, lower)
                fit = AsymptoticCalculator(spec, self.settings.cl).fit()
                self._errors[key] = (fit.error_low, fit.error_high)
        return self._errors[key]

    def _counting_errors(self, n: int) -> tuple[float, float]:
        low, high = poisson_interval(n)
        var_s, _, var_b = self.hypothesis.summary.log_cov
        mu = float(self.mu_hat(n))
        # In sigma x B (fb): s's relative spread scales mu itself; b's (events) is
        # converted by s (events per fb).
        syst = mu * mu * var_s + (self.b * self.b * var_b) / (self.s * self.s)
        return (
            math.sqrt(((n - low) / self.s) ** 2 + syst),
            math.sqrt(((high - n) / self.s) ** 2 + syst),
        )

    def at_counts(
        self, counts: npt.NDArray[np.int64], quantity: Callable[[int], float], max_fits: int = 16
    ) -> FloatArray:
        """``quantity(n)`` for every count of ``counts``, each distinct count computed once.

        Exact-counting windows compute every distinct count (their answers
        are discrete). Fitted (asymptotic) windows, where each count costs a
        few pyhf fits and the answer is a smooth monotone function of the
        count, compute at most ``max_fits`` counts spread over the range and
        interpolate linearly between them.
        """
        values, inverse = np.unique(np.asarray(counts, np.int64), return_inverse=True)
        if self(int(values[0])).method == "exact" or values.size <= max_fits:
            computed = np.array([quantity(int(n)) for n in values], np.float64)
            return np.asarray(computed[inverse], np.float64)
        nodes = np.unique(np.linspace(values[0], values[-1], max_fits).round().astype(np.int64))
        at_nodes = np.array([quantity(int(n)) for n in nodes], np.float64)
        return np.asarray(np.interp(values, nodes, at_nodes)[inverse], np.float64)
