"""The statistical-model declaration a channel hands to the limit backend.

A channel declares *what* to fit (observable, mass range, resolution, signal
model, background source, systematics, units, confidence level); the backend
decides *how* (window bins, workspace, calculator). The declaration is a
pydantic model with ``extra="forbid"`` so that a typo in a channel's
declaration fails loudly instead of being ignored.

Examples:
    >>> model = StatModel(
    ...     channel="four_muon",
    ...     observable="m_mumu",
    ...     mass_range=(0.5, 2.0),
    ...     resolution=Resolution(polynomial=[0.002, 0.01]),
    ...     signal_model="zprime",
    ...     cl=0.9,
    ... )
    >>> round(model.resolution(1.0), 4)
    0.012
    >>> [sub.name for sub in model.subchannels_or_default()]
    ['four_muon']
"""

from __future__ import annotations

import itertools
import re
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "Background",
    "BranchingNormalisation",
    "CouplingReference",
    "Resolution",
    "StatModel",
    "SubChannel",
    "Systematic",
]

_UNITS = re.compile(r"^(sigma_B_fb|branching_fraction|coupling:[A-Za-z0-9_]+)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resolution(_Strict):
    """Mass resolution sigma(m) in GeV: a table (interpolated linearly) or a polynomial.

    Exactly one of ``table`` (pairs ``(mass, sigma)``, sorted by mass) and
    ``polynomial`` (coefficients ``c0 + c1 m + c2 m^2 + ...``) is given.
    """

    table: list[tuple[float, float]] | None = None
    polynomial: list[float] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Resolution:
        if (self.table is None) == (self.polynomial is None):
            msg = "give exactly one of Resolution.table and Resolution.polynomial"
            raise ValueError(msg)
        if self.table is not None:
            masses = [m for m, _ in self.table]
            if len(masses) < 1 or any(b <= a for a, b in itertools.pairwise(masses)):
                msg = "Resolution.table masses must be strictly increasing and non-empty"
                raise ValueError(msg)
            if any(s <= 0 for _, s in self.table):
                msg = "Resolution.table sigmas must be positive"
                raise ValueError(msg)
        return self

    def __call__(self, mass: float) -> float:
        """sigma(mass) in GeV, always positive."""
        if self.table is not None:
            masses, sigmas = zip(*self.table, strict=True)
            value = float(np.interp(mass, masses, sigmas))
        else:
            assert self.polynomial is not None
            value = float(np.polynomial.polynomial.polyval(mass, self.polynomial))
        if value <= 0:
            msg = f"resolution at m = {mass} GeV is {value}, must be positive"
            raise ValueError(msg)
        return value


class Systematic(_Strict):
    """A systematic variation to include: ``<name>_up`` / ``<name>_down`` in the histograms.

    ``correlated`` says whether the nuisance parameter is shared between
    experiments (Belle and Belle II) in a combination; modes of one
    experiment always share it.
    """

    name: str
    correlated: bool = True


class Background(_Strict):
    """Where the background in the window comes from.

    ``simulation``: the background processes of the histograms (expected
    events at the catalogue luminosity). ``sideband``: a fit of ``function``
    (``polynomial`` of ``order`` or ``exponential``) to the data in sidebands
    from ``window`` to ``sideband`` resolution units away from the
    hypothesis mass. With ``constraint="shapesys"`` the fit uncertainty is a
    Poisson-constrained per-bin modifier; with ``"normfactor"`` the sideband
    bins enter the workspace as a control channel and a free normalisation
    ties them to the window.

    ``min_events`` (simulation only): a process with fewer effective
    simulated events than this in a window is estimated from a smooth local
    density instead of the window's own sparse bins (0 turns this off; see
    :mod:`belleflow.limits.background`). ``floor_weight``: the per-event
    weight of the simulation, for the floor of a window when no background
    process has a single event in the histograms (a background-free
    selection); ``belleflow limits`` takes the largest simulation weight of
    the run's report when it is not declared.
    """

    source: Literal["simulation", "sideband"] = "simulation"
    function: Literal["polynomial", "exponential"] = "polynomial"
    order: int = Field(default=1, ge=0, le=4)
    sideband: float = Field(default=10.0, gt=0)
    constraint: Literal["shapesys", "normfactor"] = "shapesys"
    min_events: float = Field(default=10.0, ge=0)
    floor_weight: float | None = Field(default=None, gt=0)


class BranchingNormalisation(_Strict):
    """How sigma x B turns into a branching fraction.

    ``B = sigma_B_fb / (multiplicity * fraction * sigma_pairs_fb)``, where the
    pair cross section is ``n_pairs / luminosity`` when ``n_pairs`` is given
    (e.g. 772e6 B Bbar pairs in 711 fb^-1) and the Physics Book value
    otherwise (1.11 nb for B Bbar, 0.919 nb for tau pairs).
    """

    pairs: Literal["BBbar", "tau_pairs"] = "BBbar"
    n_pairs: float | None = Field(default=None, gt=0)
    multiplicity: float = Field(default=2.0, gt=0)
    fraction: float = Field(default=1.0, gt=0, le=1)


class CouplingReference(_Strict):
    """Reference prediction for coupling limits: sigma x B (fb) or B at ``coupling`` per mass.

    The declared limit scales as ``coupling**power``; ``reference`` is in
    the same quantity as ``on`` (sigma x B in fb or branching fraction).
    """

    coupling: float = Field(default=1.0, gt=0)
    power: float = Field(default=2.0, gt=0)
    on: Literal["sigma_B_fb", "branching_fraction"] = "sigma_B_fb"
    masses: list[float]
    reference: list[float]

    @model_validator(mode="after")
    def _same_length(self) -> CouplingReference:
        if len(self.masses) != len(self.reference) or not self.masses:
            msg = "CouplingReference.masses and .reference must be non-empty and of equal length"
            raise ValueError(msg)
        return self


class SubChannel(_Strict):
    """One (mode, experiment) part of a simultaneous fit or combination.

    ``source`` names the run-output channel whose histograms this part uses
    (default: the part's name); ``observable`` defaults to the model's.
    ``signal_scale`` multiplies the signal (e.g. a relative branching
    fraction between modes).
    """

    name: str
    experiment: str = "Belle II"
    source: str | None = None
    observable: str | None = None
    luminosity_fb: float | None = Field(default=None, gt=0)
    lumi_uncertainty: float | None = Field(default=None, ge=0, lt=1)
    signal_scale: float = Field(default=1.0, gt=0)


class StatModel(_Strict):
    """What a channel declares for its limits (see module docstring)."""

    channel: str
    observable: str
    mass_range: tuple[float, float]
    vetoed: list[tuple[float, float]] = Field(
        default_factory=list,
        description="mass windows (GeV) the selection vetoes (peaking backgrounds): not scanned",
    )
    scan_step: float = Field(
        default=1.0, gt=0, description="step between hypotheses, resolution units"
    )
    resolution: Resolution
    signal_model: str
    ctau_values: list[float] | None = None
    signal_shape: Literal["gaussian", "template"] = "template"
    background: Background = Field(default_factory=Background)
    window: float = Field(default=2.0, gt=0, description="window half-width, resolution units")
    units: str = "sigma_B_fb"
    cl: float = Field(default=0.95, description="0.90 or 0.95, as the paper")
    counting: bool = True
    systematics: list[Systematic] = []
    luminosity_fb: float | None = Field(default=None, gt=0)
    lumi_uncertainty: float = Field(default=0.0, ge=0, lt=1)
    mc_stat: bool = True
    blinded: bool = False
    subchannels: list[SubChannel] = []
    branching: BranchingNormalisation | None = None
    coupling: CouplingReference | None = None
    calculator: Literal["auto", "asymptotic", "exact", "toys"] = "auto"
    exact_below: float = Field(default=5.0, ge=0, description="auto: exact if background < this")
    ntoys: int = Field(default=1000, gt=0)

    @field_validator("systematics", mode="before")
    @classmethod
    def _names_to_systematics(cls, value: object) -> object:
        # Channels mostly list plain names; accept them as correlated systematics.
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _check(self) -> StatModel:
        low, high = self.mass_range
        if not low <= high:
            msg = f"mass_range {self.mass_range} must have low <= high"
            raise ValueError(msg)
        if self.cl not in (0.9, 0.95):
            msg = f"cl must be 0.9 or 0.95 (as the published results), not {self.cl}"
            raise ValueError(msg)
        if not _UNITS.match(self.units):
            msg = (
                f"units {self.units!r} must be 'sigma_B_fb', 'branching_fraction' "
                "or 'coupling:<name>'"
            )
            raise ValueError(msg)
        if self.units == "branching_fraction" and self.branching is None:
            msg = "units 'branching_fraction' need a 'branching' normalisation"
            raise ValueError(msg)
        for lo, hi in self.vetoed:
            if not lo < hi:
                msg = f"vetoed window ({lo}, {hi}) must have low < high"
                raise ValueError(msg)
        names = [sub.name for sub in self.subchannels]
        if len(set(names)) != len(names):
            msg = f"sub-channel names must be unique: {names}"
            raise ValueError(msg)
        return self

    def subchannels_or_default(self) -> list[SubChannel]:
        """The sub-channels, or one implicit sub-channel for a single-mode channel."""
        if self.subchannels:
            return list(self.subchannels)
        return [SubChannel(name=self.channel, source=self.channel)]

    def hypothesis_masses(self) -> list[float]:
        """Scan masses: from the low edge in steps of ``scan_step * sigma(m)``.

        Examples:
            >>> m = StatModel(channel="c", observable="m", mass_range=(1.0, 1.5),
            ...               resolution=Resolution(polynomial=[0.1]), signal_model="s")
            >>> m.hypothesis_masses()
            [1.0, 1.1, 1.2, 1.3, 1.4, 1.5]
            >>> m.model_copy(update={"vetoed": [(1.15, 1.35)]}).hypothesis_masses()
            [1.0, 1.1, 1.4, 1.5]
        """
        low, high = self.mass_range
        masses = [low]
        while True:
            step = self.scan_step * self.resolution(masses[-1])
            nxt = masses[-1] + step
            # A tolerance of 1e-9 GeV keeps the upper edge when steps add up to it exactly.
            if nxt > high + 1e-9:
                break
            masses.append(round(nxt, 9))
        # Inside a vetoed window the selection removed the signal as well as
        # the peaking background: a hypothesis there would claim a sensitivity
        # the analysis does not have (the papers leave these regions out).
        return [m for m in masses if not any(lo <= m <= hi for lo, hi in self.vetoed)]
