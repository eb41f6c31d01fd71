"""Signal templates at arbitrary masses, interpolated between generated grid points.

Signal is generated at a grid of masses (and lifetimes). A hypothesis sits
anywhere in between, so the backend interpolates:

- the **yield** (expected events per fb of sigma x B at the sample
  luminosity, i.e. luminosity x efficiency) in mass with a monotone cubic
  (PCHIP; linear with two points), and in lifetime linearly in log(c tau);
- the **shape**: a Gaussian of the declared resolution sigma(m), or the
  nearest generated template shifted to m and stretched by
  sigma(m) / sigma(m_grid);
- the **relative systematic variations** of the signal yield, linearly.

Examples:
    >>> grid = SignalGrid.from_table([1.0, 2.0, 3.0], [10.0, 20.0, 30.0])
    >>> round(grid.yield_at(2.5), 6)
    25.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.interpolate import PchipInterpolator  # type: ignore[import-untyped]
from scipy.special import ndtr  # type: ignore[import-untyped]

from belleflow.limits.histograms import HistogramTable

__all__ = ["SignalGrid", "SignalLibrary", "SignalPrediction", "gaussian_fractions"]

FloatArray = npt.NDArray[np.float64]


def gaussian_fractions(edges: FloatArray, mass: float, sigma: float) -> FloatArray:
    """Fraction of a Gaussian(mass, sigma) in each bin of ``edges``.

    Examples:
        >>> f = gaussian_fractions(np.array([-1.0, 0.0, 1.0]), 0.0, 1.0)
        >>> [round(float(x), 4) for x in f]
        [0.3413, 0.3413]
    """
    cdf = ndtr((np.asarray(edges, np.float64) - mass) / sigma)
    return np.asarray(np.diff(cdf), np.float64)


@dataclass(frozen=True)
class SignalPrediction:
    """The signal at one hypothesis: yield per fb, resolution, shape and variations."""

    mass: float
    ctau: float
    yield_per_fb: float
    sigma: float
    shape: Callable[[FloatArray], FloatArray]
    variations: dict[str, float] = field(default_factory=dict)

    def in_bins(self, edges: FloatArray) -> FloatArray:
        """Expected events per fb in each bin of ``edges``."""
        return self.yield_per_fb * self.shape(edges)


@dataclass(frozen=True)
class SignalGrid:
    """Signal at generated masses of one lifetime.

    ``variations`` maps a variation name (``"<syst>_up"``) to the yield
    ratio variation / nominal at each grid mass. ``templates`` holds the
    nominal histograms (edges, contents) when built from histograms.
    """

    masses: FloatArray
    yields: FloatArray
    variations: dict[str, FloatArray] = field(default_factory=dict)
    templates: tuple[tuple[FloatArray, FloatArray], ...] | None = None

    @classmethod
    def from_table(
        cls,
        masses: Sequence[float],
        yields: Sequence[float],
        variations: Mapping[str, Sequence[float]] | None = None,
    ) -> SignalGrid:
        """From an efficiency table: yields are luminosity x efficiency per fb."""
        order = np.argsort(np.asarray(masses, np.float64))
        m = np.asarray(masses, np.float64)[order]
        y = np.asarray(yields, np.float64)[order]
        if len(m) == 0 or np.any(np.diff(m) <= 0) or len(y) != len(m):
            msg = "signal grid masses must be distinct, with one yield each"
            raise ValueError(msg)
        var = {k: np.asarray(v, np.float64)[order] for k, v in (variations or {}).items()}
        return cls(m, y, var)

    @classmethod
    def from_histograms(
        cls, table: HistogramTable, model: str, ctau: float, systematics: Sequence[str] = ()
    ) -> SignalGrid:
        """From the signal slices of ``model`` at lifetime ``ctau`` in one observable.

        Raises:
            ValueError: No grid point of that model and lifetime.
        """
        points = {
            p: label
            for p, label in table.signal_points(model).items()
            if math.isclose(p.ctau, ctau)
        }
        if not points:
            msg = f"no signal of model {model!r} with ctau={ctau:g} in the histograms"
            raise ValueError(msg)
        masses, yields, templates = [], [], []
        variations: dict[str, list[float]] = {}
        for point in sorted(points, key=lambda p: p.mass):
            label = points[point]
            nominal = table.get(label)
            total = float(nominal.sum())
            masses.append(point.mass)
            yields.append(total)
            templates.append((table.edges, nominal))
            for syst in systematics:
                for direction in ("up", "down"):
                    name = f"{syst}_{direction}"
                    if table.has(label, name) and total > 0:
                        ratio = float(table.get(label, name).sum()) / total
                    else:
                        ratio = 1.0
                    variations.setdefault(name, []).append(ratio)
        grid = cls.from_table(masses, yields, variations)
        return cls(grid.masses, grid.yields, grid.variations, tuple(templates))

    def _interpolate(self, values: FloatArray, mass: float) -> float:
        if len(self.masses) == 1:
            return float(values[0])
        if len(self.masses) == 2:
            return float(np.interp(mass, self.masses, values))
        return float(PchipInterpolator(self.masses, values)(mass))

    def check_mass(self, mass: float) -> None:
        """Raise ValueError when ``mass`` is outside the generated grid (no extrapolation)."""
        low, high = float(self.masses[0]), float(self.masses[-1])
        # Half a per-mille of slack: scan masses are rounded and grids written with %g.
        slack = 5e-4 * max(abs(low), abs(high), 1e-3)
        if not low - slack <= mass <= high + slack:
            msg = f"mass {mass:g} GeV is outside the signal grid [{low:g}, {high:g}] GeV"
            raise ValueError(msg)

    def yield_at(self, mass: float) -> float:
        """Interpolated expected events per fb at ``mass`` (never negative)."""
        self.check_mass(mass)
        return max(self._interpolate(self.yields, mass), 0.0)

    def variations_at(self, mass: float) -> dict[str, float]:
        """Interpolated yield ratios variation / nominal at ``mass``."""
        return {
            k: float(np.interp(mass, self.masses, v)) for k, v in sorted(self.variations.items())
        }

    def nearest_template(self, mass: float) -> tuple[float, FloatArray, FloatArray]:
        """(grid mass, edges, contents) of the generated template nearest to ``mass``."""
        if self.templates is None:
            msg = "this signal grid was built from a table and has no templates"
            raise ValueError(msg)
        i = int(np.argmin(np.abs(self.masses - mass)))
        edges, contents = self.templates[i]
        return float(self.masses[i]), edges, contents


def _template_shape(
    grid_mass: float, t_edges: FloatArray, contents: FloatArray, scale: float, mass: float
) -> Callable[[FloatArray], FloatArray]:
    total = float(contents.sum())
    cdf = np.concatenate([[0.0], np.cumsum(contents) / total]) if total > 0 else None

    def shape(edges: FloatArray) -> FloatArray:
        if cdf is None:
            return np.zeros(len(edges) - 1)
        # Map each requested edge back to the grid template's frame, then read its CDF.
        source = grid_mass + (np.asarray(edges) - mass) / scale
        return np.asarray(np.diff(np.interp(source, t_edges, cdf)), np.float64)

    return shape


@dataclass(frozen=True)
class SignalLibrary:
    """Signal grids of one model at several lifetimes, with interpolation in mass and lifetime."""

    grids: dict[float, SignalGrid]
    resolution: Callable[[float], float]
    shape: str = "gaussian"

    @property
    def ctaus(self) -> list[float]:
        """Generated lifetimes, sorted."""
        return sorted(self.grids)

    def mass_coverage(self, ctaus: Sequence[float]) -> tuple[float, float]:
        """Masses where the signal at every one of ``ctaus`` is known without extrapolation.

        A lifetime on the grid uses its own masses; one between two generated
        lifetimes needs both neighbours' grids.
        """
        used: set[float] = set()
        generated = self.ctaus
        for ctau in ctaus:
            exact = [c for c in generated if math.isclose(c, ctau, rel_tol=1e-9, abs_tol=1e-12)]
            used.update(exact or [c for c in generated if c < ctau][-1:])
            if not exact:
                used.update([c for c in generated if c > ctau][:1])
        grids = [self.grids[c] for c in used] or list(self.grids.values())
        return max(float(g.masses[0]) for g in grids), min(float(g.masses[-1]) for g in grids)

    def _yield_and_variations(self, mass: float, ctau: float) -> tuple[float, dict[str, float]]:
        ctaus = self.ctaus
        exact = [c for c in ctaus if math.isclose(c, ctau, rel_tol=1e-9, abs_tol=1e-12)]
        if exact:
            grid = self.grids[exact[0]]
            return grid.yield_at(mass), grid.variations_at(mass)
        above = [c for c in ctaus if c > ctau]
        below = [c for c in ctaus if c < ctau]
        if not above or not below or below[-1] <= 0:
            msg = f"ctau {ctau:g} cm is outside the generated lifetimes {ctaus} (no extrapolation)"
            raise ValueError(msg)
        c1, c2 = below[-1], above[0]
        # Efficiency of a displaced-vertex selection varies smoothly in log(c tau).
        t = (math.log(ctau) - math.log(c1)) / (math.log(c2) - math.log(c1))
        g1, g2 = self.grids[c1], self.grids[c2]
        y = (1 - t) * g1.yield_at(mass) + t * g2.yield_at(mass)
        v1, v2 = g1.variations_at(mass), g2.variations_at(mass)
        return y, {k: (1 - t) * v1[k] + t * v2.get(k, 1.0) for k in v1}

    def at(self, mass: float, ctau: float = 0.0) -> SignalPrediction:
        """The signal prediction at (mass, ctau)."""
        yield_per_fb, variations = self._yield_and_variations(mass, ctau)
        sigma = self.resolution(mass)
        if self.shape == "template":
            nearest = min(self.ctaus, key=lambda c: abs(c - ctau))
            grid_mass, t_edges, contents = self.grids[nearest].nearest_template(mass)
            scale = sigma / self.resolution(grid_mass)
            shape = _template_shape(grid_mass, t_edges, contents, scale, mass)
        else:

            def shape(edges: FloatArray) -> FloatArray:
                return gaussian_fractions(edges, mass, sigma)

        return SignalPrediction(mass, ctau, yield_per_fb, sigma, shape, variations)
