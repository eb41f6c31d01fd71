"""Background-only pseudo-experiments over a scan: coverage, bias and the null scan.

A toy is a whole spectrum: every bin of the run's histogram gets a Poisson
count around the simulated background in that bin, and each hypothesis sees
the sum over its window. Neighbouring windows overlap (they are four
resolutions wide and one apart), so drawing the spectrum rather than each
window keeps their correlation, which the look-elsewhere figures need. Each
window is then evaluated by the backend at the counts the toys produced
(:class:`~belleflow.validation.windows.WindowEvaluator`).

The toys' truth is the expected background per bin: the simulation,
smoothed where it is sparse
(:func:`~belleflow.validation.windows.smoothed_background_per_bin`), as a
single simulated event of weight 1 is one possible data set, not an expected
rate. The bias study also draws toys from the raw simulation itself, and
judges the difference with the simulation's own statistical uncertainty.

From one ensemble come:

- **coverage**: the fraction of toys whose observed limit lies inside the
  expected +-1 and +-2 sigma bands, per hypothesis; and what the Poisson
  distribution of the window count makes of it exactly (a discrete count
  covers *at least* the nominal rate; for ``b -> 0`` every band is the
  ``n = 0`` limit and the coverage is ``P(n = 0)``, close to 1);
- **bias**: the mean fitted signal (unclipped ``(n - b) / s``) per
  hypothesis on toys of the raw simulation, with its error ``std / sqrt(N)``
  and the simulation's MC-statistics uncertainty in the window, and in units
  of the statistical uncertainty of one experiment (a spurious signal);
- **null scan**: the local Z of every window of every toy (fraction above 2,
  the largest), the global significance of each toy scan by the backend's
  :func:`~belleflow.limits.significance.global_significance`, and the local
  Z of a single event in each window (finite and below 5 unless the window
  claims a background below 3e-7 events).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import poisson  # type: ignore[import-untyped]

from belleflow.limits.significance import global_significance
from belleflow.limits.workspace import Hypothesis
from belleflow.validation.windows import WindowEvaluator

__all__ = ["Ensemble", "draw_window_counts", "run_ensemble"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def draw_window_counts(
    background: FloatArray,
    windows: Sequence[tuple[int, int]],
    n_toys: int,
    rng: np.random.Generator,
    chunk: int = 200,
) -> IntArray:
    """Window counts ``(n_toys, n_windows)`` of Poisson toy spectra of ``background`` per bin.

    Examples:
        >>> rng = np.random.default_rng(1)
        >>> counts = draw_window_counts(np.full(10, 2.0), [(0, 4), (3, 9)], 2000, rng)
        >>> counts.shape, bool(abs(counts[:, 0].mean() - 10.0) < 0.5)
        ((2000, 2), True)
    """
    lows = np.array([w[0] for w in windows], np.int64)
    highs = np.array([w[1] for w in windows], np.int64)
    used = slice(int(lows.min()), int(highs.max()) + 1)
    expected = np.asarray(background, np.float64)[used]
    out = np.empty((n_toys, len(windows)), np.int64)
    # Chunks of toys keep the (toys x bins) spectra small for fine histograms.
    for start in range(0, n_toys, chunk):
        size = min(chunk, n_toys - start)
        spectra = rng.poisson(expected, size=(size, expected.size))
        cumulative = np.concatenate([np.zeros((size, 1), np.int64), np.cumsum(spectra, 1)], 1)
        out[start : start + size] = (
            cumulative[:, highs - used.start + 1] - cumulative[:, lows - used.start]
        )
    return out


@dataclass(frozen=True)
class Ensemble:
    """Background-only toys of a scan, evaluated by the backend (arrays are toys x hypotheses)."""

    masses: FloatArray
    sigmas: FloatArray
    methods: list[str]
    b_model: FloatArray
    b_true: FloatArray  # the toys' expected background in each window
    b_simulation: FloatArray  # the raw simulation's, the truth of the bias toys
    b_simulation_variance: FloatArray  # its MC-statistics variance
    s_per_fb: FloatArray
    counts: IntArray
    observed: FloatArray
    expected: FloatArray  # hypotheses x 5 (-2..+2 sigma)
    z: FloatArray
    mu_hat: FloatArray  # fitted on toys of the raw simulation
    z_one_event: FloatArray
    z_global: FloatArray
    coverage_exact: FloatArray  # hypotheses x 2 (+-1, +-2 sigma): Poisson expectation
    fraction_z2_exact: FloatArray  # hypotheses: P(Z > 2) from the Poisson distribution

    @property
    def n_toys(self) -> int:
        """Number of toys."""
        return int(self.counts.shape[0])

    def inside(self, band: int) -> npt.NDArray[np.bool_]:
        """Toys x hypotheses: observed limit inside the expected +-``band`` sigma band.

        Inclusive, to a relative 1e-6: a discrete count's limit can equal a band edge.
        """
        low, high = self.expected[:, 2 - band], self.expected[:, 2 + band]
        tol = 1e-6 * np.abs(self.expected[:, 2])
        return (self.observed >= low - tol) & (self.observed <= high + tol)

    def coverage(self, band: int) -> FloatArray:
        """Per hypothesis, the fraction of toys inside the +-``band`` sigma band."""
        return np.asarray(self.inside(band).mean(axis=0), np.float64)

    def bias(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per hypothesis: mean fitted sigma x B, its error, and the per-experiment spread."""
        mean = self.mu_hat.mean(axis=0)
        spread = self.mu_hat.std(axis=0, ddof=1) if self.n_toys > 1 else np.zeros_like(mean)
        return mean, spread / np.sqrt(self.n_toys), spread


def _poisson_expectations(
    values: IntArray, observed: FloatArray, z: FloatArray, expected: FloatArray, b_true: float
) -> tuple[float, float, float]:
    """Poisson-weighted coverage (+-1, +-2 sigma) and P(Z > 2) over the counts evaluated."""
    weights = poisson.pmf(values, b_true) if b_true > 0 else (values == 0).astype(np.float64)
    weights = weights / weights.sum()
    tol = 1e-6 * abs(expected[2])
    cover = [
        float(
            np.sum(
                weights
                * ((observed >= expected[2 - k] - tol) & (observed <= expected[2 + k] + tol))
            )
        )
        for k in (1, 2)
    ]
    return cover[0], cover[1], float(np.sum(weights * (z > 2.0)))


def run_ensemble(
    hypotheses: Sequence[Hypothesis],
    windows: Sequence[tuple[int, int]],
    background: FloatArray,
    sigmas: Sequence[float],
    *,
    cl: float,
    n_toys: int,
    seed: int = 0,
    simulation: tuple[FloatArray, FloatArray] | None = None,
    max_fits: int = 16,
    progress: Callable[[int], None] | None = None,
) -> Ensemble:
    """Draw ``n_toys`` background-only spectra and evaluate every hypothesis on them.

    Args:
        hypotheses: Single-bin counting hypotheses (the scan, or a subset).
        windows: Their window bins (first, last), as the workspace builder sums them.
        background: Expected background per bin of the histogram (the toys' truth).
        sigmas: Mass resolution at each hypothesis (for the global significance).
        cl: Confidence level of the limits.
        n_toys: Pseudo-experiments.
        seed: Seed of the toys.
        simulation: Raw simulated background per bin and its MC-statistics variance,
            the truth of the bias toys (default: ``background``, known exactly).
        max_fits: Counts fitted per asymptotic window (others interpolated).
        progress: Called with the number of hypotheses done after each one.
    """
    rng = np.random.default_rng(seed)
    counts = draw_window_counts(background, windows, n_toys, rng)
    raw, raw_variance = simulation or (background, np.zeros_like(background))
    raw_counts = draw_window_counts(raw, windows, n_toys, rng)

    def window_sums(per_bin: FloatArray) -> FloatArray:
        return np.array([per_bin[lo : hi + 1].sum() for lo, hi in windows])

    n_hyp = len(hypotheses)
    observed = np.empty((n_toys, n_hyp))
    z = np.empty((n_toys, n_hyp))
    mu_hat = np.empty((n_toys, n_hyp))
    expected = np.empty((n_hyp, 5))
    z_one = np.empty(n_hyp)
    cover_exact = np.empty((n_hyp, 2))
    z2_exact = np.empty(n_hyp)
    methods = []
    b_true = window_sums(background)
    for j, h in enumerate(hypotheses):
        evaluator = WindowEvaluator(h, cl)
        values, inverse = np.unique(counts[:, j], return_inverse=True)
        obs_v = evaluator.at_counts(values, evaluator.observed, max_fits)
        z_v = evaluator.at_counts(values, evaluator.z_local, max_fits)
        observed[:, j] = obs_v[inverse]
        z[:, j] = z_v[inverse]
        mu_hat[:, j] = evaluator.mu_hat(raw_counts[:, j])
        first = evaluator(int(values[0]))
        expected[j] = first.expected
        methods.append(first.method)
        z_one[j] = evaluator(1).z_local
        c1, c2, a2 = _poisson_expectations(values, obs_v, z_v, expected[j], float(b_true[j]))
        cover_exact[j] = (c1, c2)
        z2_exact[j] = a2
        if progress is not None:
            progress(j + 1)
    masses = np.array([h.mass for h in hypotheses])
    ctaus = [h.ctau for h in hypotheses]
    z_global = np.array(
        [
            global_significance(list(masses), list(z[t]), list(sigmas), ctaus=ctaus).z_global
            for t in range(n_toys)
        ]
    )
    return Ensemble(
        masses=masses,
        sigmas=np.asarray(sigmas, np.float64),
        methods=methods,
        b_model=np.array([h.summary.b for h in hypotheses]),
        b_true=b_true,
        b_simulation=window_sums(raw),
        b_simulation_variance=window_sums(raw_variance),
        s_per_fb=np.array([h.summary.s for h in hypotheses]),
        counts=counts,
        observed=observed,
        expected=expected,
        z=z,
        mu_hat=mu_hat,
        z_one_event=z_one,
        z_global=z_global,
        coverage_exact=cover_exact,
        fraction_z2_exact=z2_exact,
    )
