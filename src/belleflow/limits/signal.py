"""The signal at any hypothesis, from the generated signal itself.

Signal is generated at a grid of masses (and lifetimes). What a hypothesis
needs is the signal that *lands in its window*: the reconstructed spectrum of
the generated signal, with its resolution core, its radiative and
mismeasured tails and, where a channel fills several candidates per event,
the wrong pairings, exactly as data would show them. The backend therefore
works on the generated spectra (the templates), not on a total yield times
an assumed shape:

- at a grid point the signal in every bin is the grid point's own histogram;
- each spectrum is split into its *core*, the bins within the statistical
  model's window (``window x sigma(m_k)``) of its own mass, and the *rest*
  (tails, wrong pairings). The two vary differently with mass: near a
  kinematic end the wrong pairings change quickly while the peak does not
  (``four_muon`` at 8 GeV: total yield -20 %, in-window yield flat), so one
  interpolated total with a blended in-window fraction misses the peak by
  20 %, while the core interpolated on its own is within the samples'
  statistics;
- between grid points ``m1 < m < m2`` each neighbour's core and rest are
  moved to ``m`` (shifted, and stretched by ``sigma(m) / sigma(m_k)``),
  normalised to unit total, blended linearly in mass, and scaled by the
  core and rest yields, each interpolated with a monotone cubic (PCHIP;
  linear with two points). At a grid point this reproduces the template
  exactly; in between, the in-window yield follows the interpolated core;
- in lifetime the predictions of the two neighbouring generated lifetimes
  are blended linearly in ``log(c tau)``;
- systematic variations are the same construction on the varied spectra, so
  a momentum-scale shift that moves signal out of the window lowers the
  in-window yield as it should.

The yield is expected events per fb of sigma x B at the sample luminosity
(luminosity x efficiency). A grid built from a table (:meth:`SignalGrid.from_table`)
has no spectra: its yields are totals with a Gaussian core of the declared
resolution, for models described by an efficiency table alone.

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

__all__ = ["SignalGrid", "SignalLibrary", "SignalPrediction", "Template", "gaussian_fractions"]

FloatArray = npt.NDArray[np.float64]
Resolution = Callable[[float], float]


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
class Template:
    """The generated spectrum of one grid point: nominal and varied bin contents.

    Attributes:
        mass: Generated mass (GeV).
        edges: Bin edges of the observable.
        nominal: Expected events per fb in each bin.
        varied: Variation name (``"<syst>_up"``) -> contents under that variation.
        core: Per bin, whether it belongs to the resolution core around ``mass``
            (None: the whole spectrum is one part).
    """

    mass: float
    edges: FloatArray
    nominal: FloatArray
    varied: Mapping[str, FloatArray] = field(default_factory=dict)
    core: npt.NDArray[np.bool_] | None = None

    @property
    def total(self) -> float:
        """Expected events per fb over the whole spectrum."""
        return float(self.nominal.sum())

    def part(self, part: str | None, variation: str | None = None) -> FloatArray:
        """Contents of the ``"core"``, the ``"rest"`` or (None) the whole spectrum."""
        contents = self.nominal if variation is None else self.varied.get(variation, self.nominal)
        if part is None or self.core is None:
            return contents
        return np.where(self.core if part == "core" else ~self.core, contents, 0.0)

    def moved(
        self,
        edges: FloatArray,
        mass: float,
        stretch: float,
        variation: str | None = None,
        part: str | None = None,
    ) -> FloatArray:
        """Contents per bin of ``edges`` with the spectrum moved from its mass to ``mass``.

        Every edge is mapped back into the template's frame
        (``m_k + (x - m) / stretch``) and the template's cumulative content is
        read there, linearly within a bin, so the total is kept wherever the
        moved spectrum stays inside the histogram range. ``part`` moves only
        the core or the rest.
        """
        cdf = np.concatenate([[0.0], np.cumsum(self.part(part, variation))])
        source = self.mass + (np.asarray(edges, np.float64) - mass) / stretch
        return np.asarray(np.diff(np.interp(source, self.edges, cdf)), np.float64)


@dataclass(frozen=True)
class SignalGrid:
    """Signal at the generated masses of one lifetime.

    ``yields`` are the totals (expected events per fb over the whole
    spectrum). ``variations`` maps a variation name to the ratio of its total
    to the nominal one per grid mass (used only without templates).
    ``templates`` holds the generated spectra when built from histograms;
    ``core_yields`` their cores' totals when they were split into core and rest.
    """

    masses: FloatArray
    yields: FloatArray
    variations: dict[str, FloatArray] = field(default_factory=dict)
    templates: tuple[Template, ...] | None = None
    core_yields: FloatArray | None = None

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
        cls,
        table: HistogramTable,
        model: str,
        ctau: float,
        systematics: Sequence[str] = (),
        core: Callable[[FloatArray, float], npt.NDArray[np.intp]] | None = None,
    ) -> SignalGrid:
        """From the signal slices of ``model`` at lifetime ``ctau`` in one observable.

        Args:
            table: The observable's histograms.
            model: Signal model name.
            ctau: Generated lifetime (cm).
            systematics: Systematic names whose ``_up``/``_down`` slices to keep.
            core: (edges, mass) -> the bins of the resolution core around the
                mass (the statistical model's window); the core and the rest of
                each spectrum are then interpolated separately. None: as one.

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
            varied = {}
            for syst in systematics:
                for direction in ("up", "down"):
                    name = f"{syst}_{direction}"
                    if table.has(label, name):
                        varied[name] = table.get(label, name)
                    ratio = float(varied[name].sum()) / total if name in varied and total else 1.0
                    variations.setdefault(name, []).append(ratio)
            mask = None
            if core is not None:
                mask = np.zeros(len(table.edges) - 1, bool)
                mask[core(table.edges, point.mass)] = True
            masses.append(point.mass)
            yields.append(total)
            templates.append(Template(point.mass, table.edges, nominal, varied, mask))
        grid = cls.from_table(masses, yields, variations)
        core_yields = None
        if core is not None:
            core_yields = np.array([t.part("core").sum() for t in templates], np.float64)
        return cls(grid.masses, grid.yields, grid.variations, tuple(templates), core_yields)

    def _parts(self) -> list[tuple[str | None, FloatArray]]:
        """(part, yield per grid mass) pairs interpolated separately."""
        if self.core_yields is None:
            return [(None, self.yields)]
        return [("core", self.core_yields), ("rest", self.yields - self.core_yields)]

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
        """Interpolated total expected events per fb at ``mass`` (never negative)."""
        self.check_mass(mass)
        return sum(max(self._interpolate(values, mass), 0.0) for _, values in self._parts())

    def variations_at(self, mass: float) -> dict[str, float]:
        """Interpolated ratios of the varied to the nominal total at ``mass``."""
        return {
            k: float(np.interp(mass, self.masses, v)) for k, v in sorted(self.variations.items())
        }

    def _neighbours(self, mass: float) -> list[tuple[float, Template]]:
        """The one or two templates around ``mass`` with their linear weights."""
        assert self.templates is not None
        i = int(np.searchsorted(self.masses, mass))
        if i < len(self.masses) and math.isclose(float(self.masses[i]), mass, rel_tol=1e-9):
            return [(1.0, self.templates[i])]
        if i == 0 or i == len(self.masses):
            # Within check_mass's rounding slack of an end of the grid.
            return [(1.0, self.templates[min(i, len(self.masses) - 1)])]
        low, high = float(self.masses[i - 1]), float(self.masses[i])
        t = (mass - low) / (high - low)
        return [(1.0 - t, self.templates[i - 1]), (t, self.templates[i])]

    def spectrum(
        self,
        mass: float,
        edges: FloatArray,
        resolution: Resolution,
        variation: str | None = None,
    ) -> FloatArray:
        """Expected events per fb in each bin of ``edges`` for a signal of mass ``mass``.

        Args:
            mass: Hypothesis mass (GeV), inside the grid.
            edges: Bin edges to predict.
            resolution: sigma(m), to stretch templates from their mass to ``mass``.
            variation: A systematic variation (``"<syst>_up"``), or None for nominal.
        """
        sigma = resolution(mass)
        if self.templates is None:
            ratio = self.variations_at(mass).get(variation, 1.0) if variation else 1.0
            return self.yield_at(mass) * ratio * gaussian_fractions(edges, mass, sigma)
        self.check_mass(mass)
        neighbours = self._neighbours(mass)
        out = np.zeros(len(edges) - 1)
        for part, values in self._parts():
            total = max(self._interpolate(values, mass), 0.0)
            shape = np.zeros(len(edges) - 1)
            used = 0.0
            for weight, template in neighbours:
                norm = float(template.part(part).sum())
                if norm <= 0:
                    continue
                stretch = sigma / resolution(template.mass)
                shape += weight * template.moved(edges, mass, stretch, variation, part) / norm
                used += weight
            # A neighbour with nothing in this part leaves the other's shape whole.
            if used > 0:
                out += total * shape / used
        return out


@dataclass(frozen=True)
class SignalPrediction:
    """The signal at one hypothesis, as a spectrum over any binning.

    Attributes:
        mass: Hypothesis mass (GeV).
        ctau: Hypothesis lifetime (cm).
        sigma: Declared resolution at ``mass``.
        yield_per_fb: Total expected events per fb (whole spectrum).
        variation_names: Variations the signal spectra carry.
    """

    mass: float
    ctau: float
    sigma: float
    yield_per_fb: float
    variation_names: tuple[str, ...]
    _parts: tuple[tuple[float, SignalGrid], ...]
    _resolution: Resolution

    def spectrum(self, edges: FloatArray, variation: str | None = None) -> FloatArray:
        """Expected events per fb in each bin of ``edges`` (nominal or one variation)."""
        out = np.zeros(len(edges) - 1)
        for weight, grid in self._parts:
            out += weight * grid.spectrum(self.mass, edges, self._resolution, variation)
        return out

    def in_window(
        self, edges: FloatArray, idx: npt.NDArray[np.intp], shape: str = "template"
    ) -> FloatArray:
        """Expected events per fb in the window bins ``idx`` of ``edges``.

        The in-window yield is always that of the generated spectra; with
        ``shape="gaussian"`` it is spread over the window bins as a Gaussian of
        the declared resolution instead of the template's own shape.
        """
        inside = self.spectrum(edges)[idx]
        if shape != "gaussian":
            return inside
        gauss = gaussian_fractions(edges, self.mass, self.sigma)[idx]
        norm = float(gauss.sum())
        return inside.sum() * gauss / norm if norm > 0 else inside

    def window_ratios(self, edges: FloatArray, idx: npt.NDArray[np.intp]) -> dict[str, float]:
        """Ratio of the in-window yield under each variation to the nominal one."""
        nominal = float(self.spectrum(edges)[idx].sum())
        if nominal <= 0:
            return {}
        return {
            name: float(self.spectrum(edges, name)[idx].sum()) / nominal
            for name in self.variation_names
        }


@dataclass(frozen=True)
class SignalLibrary:
    """Signal grids of one model at several lifetimes, with interpolation in mass and lifetime."""

    grids: dict[float, SignalGrid]
    resolution: Resolution
    shape: str = "template"

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
        for ctau in ctaus:
            used.update(c for _, c in self._lifetime_weights(ctau, strict=False))
        grids = [self.grids[c] for c in used] or list(self.grids.values())
        return max(float(g.masses[0]) for g in grids), min(float(g.masses[-1]) for g in grids)

    def _lifetime_weights(self, ctau: float, *, strict: bool = True) -> list[tuple[float, float]]:
        """(weight, generated lifetime) pairs that make up ``ctau``, linear in log(c tau)."""
        generated = self.ctaus
        exact = [c for c in generated if math.isclose(c, ctau, rel_tol=1e-9, abs_tol=1e-12)]
        if exact:
            return [(1.0, exact[0])]
        below = [c for c in generated if c < ctau]
        above = [c for c in generated if c > ctau]
        if not above or not below or below[-1] <= 0:
            if not strict:
                return [(1.0, c) for c in below[-1:] + above[:1]]
            msg = (
                f"ctau {ctau:g} cm is outside the generated lifetimes {generated} "
                "(no extrapolation)"
            )
            raise ValueError(msg)
        c1, c2 = below[-1], above[0]
        # Efficiency of a displaced-vertex selection varies smoothly in log(c tau).
        t = (math.log(ctau) - math.log(c1)) / (math.log(c2) - math.log(c1))
        return [(1.0 - t, c1), (t, c2)]

    def at(self, mass: float, ctau: float = 0.0) -> SignalPrediction:
        """The signal prediction at (mass, ctau)."""
        parts = tuple((w, self.grids[c]) for w, c in self._lifetime_weights(ctau))
        total = sum(w * grid.yield_at(mass) for w, grid in parts)
        names: set[str] = set()
        for _, grid in parts:
            names.update(grid.variations)
        return SignalPrediction(
            mass, ctau, self.resolution(mass), total, tuple(sorted(names)), parts, self.resolution
        )
