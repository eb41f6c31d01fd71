"""Signal-injection toys: a generated signal the model has not seen, fitted back.

To inject a signal *between* grid points and still know exactly what
was injected, one grid point is left out: the workspace at its mass is
built from the histograms without it (so the backend interpolates from the
neighbouring grid points, as at any scan mass between them), while the
toys carry that grid point's generated signal, i.e. every selected
candidate that lands in the window, wrong pairings and tails included,
which is what data would show. A signal model whose yield or shape is
wrong (counting candidates that never reach the window, say) fits a
strength different from the injected one; the pulls and the ratio
``mu_hat / mu_inj`` show it.

With a few events in a window the pulls are discrete and not exactly
N(0, 1); the distribution a correct model gives, with counts drawn from
the model's own prediction, is computed exactly from the Poisson
probabilities and reported next to them (``reference``).

The truth and the model are both finite simulation: the left-out grid
point's in-window yield and the neighbours' it is interpolated from carry
the statistical uncertainty of the generated samples (8 % for 2,000 events
at a 20 % in-window efficiency). ``mc_error`` is that relative uncertainty
of ``s_model / s_true``; the checks allow for it, and the pull reference is
a band: the pulls a correct model gives when the true in-window signal is
anywhere within three ``mc_error`` of the model's.

The injected strength gives a median discovery significance of
``z_target`` (Asimov, Cowan et al.) on the window's background and its
uncertainty in the model, and at least three signal events.

Examples:
    >>> round(injected_events(0.5, 4.0), 2)
    4.92
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq  # type: ignore[import-untyped]
from scipy.stats import poisson  # type: ignore[import-untyped]

from belleflow.limits.api import build_hypotheses
from belleflow.limits.histograms import HistogramTable
from belleflow.limits.model import StatModel
from belleflow.limits.significance import asimov_significance
from belleflow.naming import SignalPoint
from belleflow.validation.windows import (
    WindowEvaluator,
    background_per_bin,
    background_variance_per_bin,
    window_bins,
)

__all__ = [
    "InjectionToys",
    "grid_points",
    "injected_events",
    "interior_grid_points",
    "leave_out",
    "run_injection",
]

FloatArray = npt.NDArray[np.float64]
#: Fewest signal events injected: below this a window's pull is mostly "nothing seen".
MIN_EVENTS = 3.0


def injected_events(b: float, z_target: float, sigma_b: float = 0.0) -> float:
    """Signal events whose median significance on ``b +- sigma_b`` background is ``z_target``.

    ``sigma_b`` is the model's whole background uncertainty in the window
    (systematic variations and simulation statistics,
    :attr:`~belleflow.limits.workspace.CountingSummary.sigma_b`): sized on the
    Poisson error alone, an injection where the systematics are large has a
    median significance well below ``z_target``.
    """
    b_eff = max(b, 1e-3)

    def excess(s: float) -> float:
        return asimov_significance(s, b_eff, sigma_b) - z_target

    high = 1.0
    while excess(high) < 0:
        high *= 2.0
    return max(float(brentq(excess, 1e-9, high, rtol=1e-8)), MIN_EVENTS)


def leave_out(table: HistogramTable, label: str) -> HistogramTable:
    """``table`` without the slices of process ``label`` (every variation)."""
    values = {k: v for k, v in table.values.items() if k[0] != label}
    variances = {k: v for k, v in table.variances.items() if k[0] != label}
    if len(values) == len(table.values):
        msg = f"no process {label!r} to leave out (processes: {table.processes})"
        raise KeyError(msg)
    return HistogramTable(table.edges, values, variances)


def grid_points(model: StatModel, table: HistogramTable) -> list[SignalPoint]:
    """The generated grid of the first scanned lifetime, by mass.

    That is the model's first ``ctau_values`` or the shortest generated one.
    """
    points = table.signal_points(model.signal_model)
    ctaus = model.ctau_values or sorted({p.ctau for p in points})
    if not ctaus:
        msg = f"{model.channel}: no signal of model {model.signal_model!r} in the histograms"
        raise ValueError(msg)
    return sorted((p for p in points if math.isclose(p.ctau, ctaus[0])), key=lambda p: p.mass)


def interior_grid_points(model: StatModel, table: HistogramTable) -> list[tuple[SignalPoint, str]]:
    """Grid points with a neighbour on each side, inside the scanned range, not vetoed.

    Only the first scanned lifetime (see :func:`grid_points`) is used.
    """
    labels = table.signal_points(model.signal_model)
    low, high = model.mass_range
    return [
        (p, labels[p])
        for p in grid_points(model, table)[1:-1]
        if low <= p.mass <= high and not any(lo <= p.mass <= hi for lo, hi in model.vetoed)
    ]


@dataclass(frozen=True)
class InjectionToys:
    """Signal-plus-background toys at one left-out grid point, fitted by the backend."""

    mass: float
    ctau: float
    label: str
    method: str
    mu_injected: float
    s_true: float  # events per fb of sigma x B the generated signal puts in the window
    s_model: float  # the same, as the workspace (interpolated without this point) has it
    b_model: float
    b_true: float
    counts: npt.NDArray[np.int64]
    mu_hat: FloatArray
    pulls: FloatArray
    z: FloatArray
    observed: FloatArray
    cl: float
    reference: tuple[float, float]  # pull mean and width a correct model gives (Poisson)
    mc_error: float = 0.0  # relative simulation-statistics uncertainty of s_model / s_true
    # Simulation-statistics uncertainty (events) of the window's background, the toys' truth.
    b_mc_error: float = 0.0
    # Pull (mean, width) a correct model gives when the true rate is three simulation-statistics
    # errors (signal and background combined) either side of the model's.
    reference_band: tuple[tuple[float, float], ...] = ()

    @property
    def ratio(self) -> tuple[float, float]:
        """Mean ``mu_hat / mu_inj`` over the toys and its error."""
        values = self.mu_hat / self.mu_injected
        return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))

    @property
    def strength_mc_error(self) -> float:
        """Simulation-statistics error of the ratio: signal model and truth, and background.

        A background off by ``db`` events moves the fitted strength by
        ``db / (mu_inj s_model)`` of the injection.
        """
        ratio = self.ratio[0]
        return math.hypot(
            ratio * self.mc_error, self.b_mc_error / (self.mu_injected * self.s_model)
        )

    @property
    def excluded(self) -> float:
        """Fraction of toys whose observed limit excludes the injected signal (<= 1 - CL)."""
        return float(np.mean(self.observed < self.mu_injected))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        ratio, ratio_err = self.ratio
        return {
            "mass": self.mass,
            "ctau": self.ctau,
            "left_out": self.label,
            "method": self.method,
            "mu_injected": self.mu_injected,
            "s_true_per_fb": self.s_true,
            "s_model_per_fb": self.s_model,
            "s_model_over_true": self.s_model / self.s_true,
            "b_model": self.b_model,
            "b_true": self.b_true,
            "toys": int(self.counts.size),
            "pull_mean": float(self.pulls.mean()),
            "pull_width": float(self.pulls.std(ddof=1)),
            "pull_mean_expected": self.reference[0],
            "pull_width_expected": self.reference[1],
            "pull_reference_band": [list(r) for r in self.reference_band],
            "mc_error": self.mc_error,
            "b_mc_error": self.b_mc_error,
            "mu_hat_over_injected": ratio,
            "mu_hat_over_injected_error": ratio_err,
            "median_z": float(np.median(self.z)),
            "excluded_fraction": self.excluded,
        }


def run_injection(
    model: StatModel,
    table: HistogramTable,
    point: SignalPoint,
    label: str,
    *,
    n_toys: int,
    z_target: float = 4.0,
    seed: int = 0,
    source: str | None = None,
    background: FloatArray | None = None,
    max_fits: int = 16,
    progress: Callable[[int], None] | None = None,
) -> InjectionToys:
    """Inject grid point ``label`` into toys of its window; fit with the model built without it.

    Args:
        model: The channel's statistical model.
        table: The observable's histogram table of the run.
        point: The grid point (mass, lifetime) to leave out and inject.
        label: Its process label.
        n_toys: Pseudo-experiments.
        z_target: Median significance of the injection.
        seed: Seed of the toys.
        source: Key of the histograms for the model's sub-channel (default: the channel).
        background: Expected background per bin, the toys' truth (default: the raw
            simulation, :func:`~belleflow.validation.windows.background_per_bin`).
        max_fits: Counts fitted in an asymptotic window (others interpolated).
        progress: Called with 1 when done.
    """
    reduced = leave_out(table, label)
    histograms: Mapping[str, Any] = {source or model.channel: {model.observable: reduced}}
    (hypothesis,) = build_hypotheses(model, histograms, masses=[point.mass], ctaus=[point.ctau])
    lo, hi = window_bins(model, table.edges, point.mass)
    s_true = float(table.get(label)[lo : hi + 1].sum())
    if s_true <= 0:
        msg = f"{label}: no generated signal inside the window at {point.mass:g} GeV"
        raise ValueError(msg)
    truth = background_per_bin(table) if background is None else background
    b_true = float(truth[lo : hi + 1].sum())
    mc_error = _mc_error(model, table, reduced, point, label, (lo, hi))
    evaluator = WindowEvaluator(hypothesis, model.cl)
    # Where the model's background is the truth's own numbers (a dense window), the two
    # cannot differ and nothing is allowed; where the backend smoothed it, they differ
    # by what the simulation's statistics allow.
    b_mc_error = 0.0
    if not math.isclose(evaluator.b, b_true, rel_tol=1e-6):
        variance = background_variance_per_bin(model, table)[lo : hi + 1]
        b_mc_error = math.sqrt(float(variance.sum()))
    mu_inj = injected_events(evaluator.b, z_target, hypothesis.summary.sigma_b) / s_true
    rng = np.random.default_rng(seed)
    counts = rng.poisson(b_true + mu_inj * s_true, size=n_toys).astype(np.int64)
    # What a correct model gives: counts as the model itself predicts them, over
    # all but 1e-6 of their Poisson distribution; and the same when the truth is
    # three simulation-statistics errors (signal and background) either side of the model.
    expected = evaluator.b + mu_inj * evaluator.s
    spread = math.hypot(mu_inj * evaluator.s * mc_error, b_mc_error)
    rates = [max(expected + k * spread, 1e-9) for k in (0, -3, 3)]
    supports = [
        np.arange(int(poisson.ppf(1e-6, rate)), int(poisson.isf(1e-6, rate)) + 1) for rate in rates
    ]
    values, inverse = np.unique(np.concatenate([counts, *supports]), return_inverse=True)
    pull_v = _pulls(evaluator, values, mu_inj, max_fits)
    references = []
    for rate, support in zip(rates, supports, strict=True):
        in_support = np.isin(values, support)
        weights = poisson.pmf(values[in_support], rate)
        weights /= weights.sum()
        ref_mean = float(np.sum(weights * pull_v[in_support]))
        ref_width = math.sqrt(float(np.sum(weights * (pull_v[in_support] - ref_mean) ** 2)))
        references.append((ref_mean, ref_width))
    toys = inverse[:n_toys]
    z = evaluator.at_counts(counts, evaluator.z_local, max_fits)
    observed = evaluator.at_counts(counts, evaluator.observed, max_fits)
    if progress is not None:
        progress(1)
    return InjectionToys(
        mass=point.mass,
        ctau=point.ctau,
        label=label,
        method=evaluator(int(values[0])).method,
        mu_injected=mu_inj,
        s_true=s_true,
        s_model=evaluator.s,
        b_model=evaluator.b,
        b_true=b_true,
        counts=counts,
        mu_hat=np.asarray(evaluator.mu_hat(counts), np.float64),
        pulls=pull_v[toys],
        z=z,
        observed=observed,
        cl=model.cl,
        reference=references[0],
        mc_error=mc_error,
        b_mc_error=b_mc_error,
        reference_band=tuple(references),
    )


def _relative_error(table: HistogramTable, label: str, lo: int, hi: int) -> float:
    """Relative statistical uncertainty of a slice's content in bins ``lo..hi``."""
    value = float(table.get(label)[lo : hi + 1].sum())
    variance = table.variance(label)
    if variance is None or value <= 0:
        return 0.0
    return math.sqrt(float(variance[lo : hi + 1].sum())) / value


def _mc_error(
    model: StatModel,
    table: HistogramTable,
    reduced: HistogramTable,
    point: SignalPoint,
    label: str,
    window: tuple[int, int],
) -> float:
    """Relative simulation-statistics uncertainty of ``s_model / s_true`` at a left-out point.

    The truth's is its own window's; the model's is that of the two
    neighbouring grid points' cores (each in its own window), weighted as the
    linear blend between them weights them.
    """
    true_error = _relative_error(table, label, *window)
    neighbours = sorted(
        (p for p in reduced.signal_points(model.signal_model) if math.isclose(p.ctau, point.ctau)),
        key=lambda p: p.mass,
    )
    below = [p for p in neighbours if p.mass < point.mass][-1:]
    above = [p for p in neighbours if p.mass > point.mass][:1]
    labels = reduced.signal_points(model.signal_model)
    model_var = 0.0
    if below and above:
        t = (point.mass - below[0].mass) / (above[0].mass - below[0].mass)
        for weight, p in ((1.0 - t, below[0]), (t, above[0])):
            lo, hi = window_bins(model, reduced.edges, p.mass)
            model_var += (weight * _relative_error(reduced, labels[p], lo, hi)) ** 2
    return math.sqrt(true_error**2 + model_var)


def _pulls(
    evaluator: WindowEvaluator, counts: npt.NDArray[np.int64], truth: float, max_fits: int
) -> FloatArray:
    """Pull of each count: ``(mu_hat - truth)`` over the fit error on the side of the truth."""
    low = evaluator.at_counts(counts, lambda n: evaluator.errors(n)[0], max_fits)
    high = evaluator.at_counts(counts, lambda n: evaluator.errors(n)[1], max_fits)
    mu = np.asarray(evaluator.mu_hat(counts), np.float64)
    return np.asarray((mu - truth) / np.where(mu < truth, high, low), np.float64)
