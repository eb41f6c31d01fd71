"""Pass/fail checks with their figures and the expectations they are held to.

Each check states its figure, what a correct chain gives, and the
tolerance, which allows for the statistics of the toys and, where counts are
small, for their discreteness:

- injection: ``mu_hat / mu_inj`` within 10 % of 1 plus three standard errors
  at every left-out grid point (the 10 % is the interpolation between grid
  points; the error combines the toys' with the simulation statistics of
  the injected and the interpolated in-window yields, ``mc_error``, and of
  the window's simulated background, ``b_mc_error``);
  pull mean and width within ``0.1 + 3 w / sqrt(N)`` and
  ``0.1 + 3 w / sqrt(2 N)`` of the band a correct model gives (0 and 1 for
  many events; for a few, computed exactly from the Poisson distribution;
  the band: true rate within three of those simulation errors of the model's);
  the true signal excluded in at most ``1 - CL`` of the toys (+3 binomial errors);
- coverage: at least the nominal rate (68.3 %, 95.4 %) less 5 %, averaged
  over the hypotheses (CLs and discrete counts over-cover by construction);
- bias: the mean fitted signal at each mass, on toys of the raw simulation,
  compatible with zero at 1 % after the number of masses is accounted for
  (its error: the toys' and the simulation's MC statistics), or smaller than
  20 % of the statistical uncertainty of one experiment (the spurious-signal
  criterion);
- null: no local Z above 5; the fraction above 2 at most the Gaussian
  2.28 % plus 3 binomial errors of the toys; every global significance
  finite; one event in any window below 5 sigma.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr, ndtri  # type: ignore[import-untyped]

from belleflow.validation.injection import InjectionToys
from belleflow.validation.toys import Ensemble

__all__ = [
    "GAUSSIAN_ABOVE_2",
    "NOMINAL_COVERAGE",
    "Check",
    "bias_checks",
    "bias_significance",
    "coverage_checks",
    "injection_checks",
    "null_checks",
]

FloatArray = npt.NDArray[np.float64]

#: P(Z > 2) for a standard normal.
GAUSSIAN_ABOVE_2 = float(ndtr(-2.0))
#: Nominal coverage of the +-1 and +-2 sigma bands.
NOMINAL_COVERAGE = (float(ndtr(1.0) - ndtr(-1.0)), float(ndtr(2.0) - ndtr(-2.0)))


@dataclass(frozen=True)
class Check:
    """One validation check: its figure, the expectation, whether it passed."""

    study: str
    name: str
    figure: str
    expectation: str
    passed: bool
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return asdict(self)


def _f(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}"


def _band_text(inj: InjectionToys, k: int, spec: str) -> str:
    """The correct model's pull mean (k=0) or width (k=1), with its band when there is one."""
    nominal = format(inj.reference[k], spec)
    if len(inj.reference_band) < 2:
        return nominal
    values = [r[k] for r in inj.reference_band]
    return f"{nominal}, {format(min(values), spec)} to {format(max(values), spec)}"


def injection_checks(injections: list[InjectionToys]) -> list[Check]:
    """Signal strength, pulls and exclusion of the true signal at the left-out grid points."""
    if not injections:
        return []
    # Toy error and simulation statistics (signal and background) combined.
    ratios = [
        (inj, r, math.hypot(e, inj.strength_mc_error))
        for inj, (r, e) in ((i, i.ratio) for i in injections)
    ]
    worst = max(ratios, key=lambda r: abs(r[1] - 1.0) - 3 * r[2])
    ratio_ok = all(abs(r - 1.0) <= 3 * e + 0.10 for _, r, e in ratios)
    # Offsets from what a correct model gives, in units of the tolerance.
    means = [(inj, float(inj.pulls.mean()), inj.reference[0]) for inj in injections]
    widths = [(inj, float(inj.pulls.std(ddof=1)), inj.reference[1]) for inj in injections]

    def outside(value: float, references: list[float]) -> float:
        """Distance of ``value`` from the band spanned by ``references`` (0 inside)."""
        return max(min(references) - value, value - max(references), 0.0)

    def band(inj: InjectionToys, k: int) -> list[float]:
        return [r[k] for r in inj.reference_band] or [inj.reference[k]]

    def mean_excess(item: tuple[InjectionToys, float, float]) -> float:
        inj, value, _ = item
        tolerance = 0.1 + 3 * inj.reference[1] / math.sqrt(inj.pulls.size)
        return outside(value, band(inj, 0)) / tolerance

    def width_excess(item: tuple[InjectionToys, float, float]) -> float:
        inj, value, reference = item
        tolerance = 0.1 + 3 * reference / math.sqrt(2 * inj.pulls.size)
        return outside(value, band(inj, 1)) / tolerance

    worst_mean = max(means, key=mean_excess)
    worst_width = max(widths, key=width_excess)
    mean_ok = all(mean_excess(m) <= 1.0 for m in means)
    width_ok = all(width_excess(w) <= 1.0 for w in widths)
    alpha = 1.0 - injections[0].cl
    excluded = [(inj, inj.excluded) for inj in injections]
    worst_excl = max(excluded, key=lambda e: e[1])
    excl_ok = all(
        e <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / i.counts.size) for i, e in excluded
    )
    n = len(injections)
    return [
        Check(
            "injection",
            "fitted / injected strength",
            f"{min(r for _, r, _ in ratios):.2f}-{max(r for _, r, _ in ratios):.2f} "
            f"over {n} left-out grid point(s); worst {worst[1]:.2f} +- {worst[2]:.2f} "
            f"at {worst[0].mass:g} GeV",
            "1 within 3 errors (toys and simulation statistics) + 10 %",
            ratio_ok,
            worst[1],
        ),
        Check(
            "injection",
            "pull mean",
            f"{worst_mean[1]:+.2f} at {worst_mean[0].mass:g} GeV (correct model: "
            f"{_band_text(worst_mean[0], 0, '+.2f')})",
            "a correct model's (0 for many events; band: simulation statistics) "
            "within 0.1 + 3 width/sqrt(N)",
            mean_ok,
            worst_mean[1],
        ),
        Check(
            "injection",
            "pull width",
            f"{worst_width[1]:.2f} at {worst_width[0].mass:g} GeV (correct model: "
            f"{_band_text(worst_width[0], 1, '.2f')})",
            "a correct model's (1 for many events; band: simulation statistics) "
            "within 0.1 + 3 width/sqrt(2N)",
            width_ok,
            worst_width[1],
        ),
        Check(
            "injection",
            "true signal excluded",
            f"{worst_excl[1]:.1%} of toys (worst, at {worst_excl[0].mass:g} GeV)",
            f"<= {alpha:.0%} (1 - CL)",
            excl_ok,
            worst_excl[1],
        ),
    ]


def coverage_checks(ensemble: Ensemble) -> list[Check]:
    """Coverage of the +-1 and +-2 sigma bands, averaged over the hypotheses."""
    checks = []
    for band, nominal in zip((1, 2), NOMINAL_COVERAGE, strict=True):
        toys = float(ensemble.coverage(band).mean())
        poisson = float(ensemble.coverage_exact[:, band - 1].mean())
        checks.append(
            Check(
                "coverage",
                f"+-{band} sigma band",
                f"{toys:.1%} of toys (Poisson expectation {poisson:.1%})",
                f">= {nominal:.1%} - 5 % (discrete counts: at least nominal)",
                toys >= nominal - 0.05,
                toys,
            )
        )
    return checks


def bias_significance(ensemble: Ensemble) -> tuple[FloatArray, FloatArray, float]:
    """Per hypothesis |mean fitted signal| over its error and over sigma; the pass threshold.

    sigma, the spread of one experiment's fit, is at least the Poisson
    spread of the window, ``sqrt(b) / s``: toys of a window with no
    simulated events all fit the same value, and their sample spread of zero
    must not turn a tiny offset into an infinite significance.

    The error of the mean has two parts: the toys' ``sigma / sqrt(N)`` and
    the MC-statistics uncertainty of the truth itself, ``sqrt(sum w^2) / s``.
    The bias toys are drawn around the raw simulation, which is known only to
    that precision: a window holding one simulated event of weight 1 says
    "1 +- 1 events", and a background model claiming 0.01 there agrees with it.
    """
    mean, _, spread = ensemble.bias()
    poisson = np.sqrt(np.maximum(ensemble.b_simulation, ensemble.b_model)) / ensemble.s_per_fb
    sigma = np.maximum(spread, poisson)
    truth = np.sqrt(ensemble.b_simulation_variance) / ensemble.s_per_fb
    error = np.hypot(sigma / math.sqrt(ensemble.n_toys), truth)
    pulls = np.divide(np.abs(mean), error, out=np.zeros_like(mean), where=error > 0)
    relative = np.divide(np.abs(mean), sigma, out=np.zeros_like(mean), where=sigma > 0)
    # A 1 % false alarm over all the masses tested (Bonferroni).
    threshold = float(ndtri(1.0 - 0.01 / (2 * mean.size)))
    return pulls, relative, threshold


def bias_checks(ensemble: Ensemble) -> list[Check]:
    """Mean fitted signal of the background-only toys at every mass."""
    pulls, relative, threshold = bias_significance(ensemble)
    ok = (pulls <= threshold) | (relative <= 0.2)
    worst = int(np.argmax(pulls))
    return [
        Check(
            "bias",
            "mean fitted signal",
            f"max |mean|/error {_f(float(pulls[worst]))} at {ensemble.masses[worst]:.4g} GeV; "
            f"max |mean|/sigma {_f(float(relative.max()))}",
            f"|mean|/error <= {threshold:.2f} or |mean| <= 0.2 sigma",
            bool(np.all(ok)),
            float(pulls[worst]),
        )
    ]


def null_checks(ensemble: Ensemble) -> list[Check]:
    """Local and global significance of the background-only toy scans."""
    z_max = float(ensemble.z.max())
    above = float((ensemble.z > 2.0).mean())
    expected = float(ensemble.fraction_z2_exact.mean())
    tolerance = 3 * math.sqrt(GAUSSIAN_ABOVE_2 * (1 - GAUSSIAN_ABOVE_2) / ensemble.n_toys)
    finite = float(np.isfinite(ensemble.z_global).mean())
    one = int(np.argmax(ensemble.z_one_event))
    z_one = float(ensemble.z_one_event[one])
    return [
        Check("null", "largest local Z", _f(z_max), "< 5", z_max < 5.0, z_max),
        Check(
            "null",
            "local Z > 2",
            f"{above:.2%} of windows (Poisson expectation {expected:.2%})",
            f"<= {GAUSSIAN_ABOVE_2:.2%} + {tolerance:.2%}",
            above <= GAUSSIAN_ABOVE_2 + tolerance,
            above,
        ),
        Check(
            "null",
            "global significance finite",
            f"{finite:.0%} of toys; median {np.median(ensemble.z_global):.2f}",
            "100 %",
            finite == 1.0,
            finite,
        ),
        Check(
            "null",
            "Z of one event in a window",
            f"max {_f(z_one)} at {ensemble.masses[one]:.4g} GeV (b = {ensemble.b_model[one]:.3g})",
            "< 5 (finite background everywhere)",
            z_one < 5.0,
            z_one,
        ),
    ]
