"""Pydantic models of the dataset catalogue, and the resolved sample views.

A catalogue YAML file is validated in two steps, as in cabinetry: the *schema*
(pydantic models with ``extra="forbid"``: types, ranges, unknown and missing
keys) and the *semantics* (cross references between entries: unique names,
known processes, ``stands_for`` naming compatible data samples, ...). Both
raise :class:`CatalogueError` when a catalogue is loaded with
:func:`belleflow.catalogue.load_catalogue`; the message names the YAML file, the
entry (``simulation[3] 'belle2_4S_mumu'``) and the key.

Units: luminosity in fb^-1, energies and masses in GeV, ``c tau`` in cm,
cross sections in nb in :mod:`belleflow.processes` and in fb in weights.
"""

from __future__ import annotations

import glob
import itertools
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from belleflow.processes import PROCESSES, get_process

__all__ = [
    "DATA_ROOT_ENV",
    "DEFAULT_FILES",
    "Catalogue",
    "CatalogueError",
    "DataSample",
    "Kind",
    "Luminosity",
    "SampleView",
    "SignalSample",
    "SimulationSample",
    "Skim",
    "format_point_value",
    "is_url",
    "pattern_syntax_problem",
]

#: Environment variable that overrides the catalogue's ``data_root``.
DATA_ROOT_ENV = "BELLEFLOW_DATA_ROOT"

#: File patterns used when an entry has no ``files`` key, relative to ``data_root``.
DEFAULT_FILES: dict[str, str] = {
    "data": "data/{name}/*.root",
    "simulation": "mc/{name}/*.root",
    "signals": "signal/{name}/{point}.root",
}

#: Placeholders allowed in file patterns, per section.
_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "data": frozenset({"name"}),
    "simulation": frozenset({"name"}),
    "signals": frozenset({"name", "mass", "ctau", "point"}),
}
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
_GLOB_CHARS = frozenset("*?[")

Kind = Literal["data", "simulation", "signal"]

#: Relative tolerance when comparing nominal centre-of-mass energies.
_ECMS_TOLERANCE = 1e-6


class CatalogueError(ValueError):
    """A catalogue is invalid or refers to files that do not exist.

    The message names the catalogue file, the entry and the key.
    """


def is_url(pattern: str) -> bool:
    """True for ``root://``, ``https://`` and other ``scheme://`` locations."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", pattern) is not None


def format_point_value(value: float) -> str:
    """Format a mass or ``c tau`` for a signal point name or file name.

    The rule: Python's ``format(value, "g")`` (shortest form, at most six
    significant digits), then ``.`` becomes ``p`` and ``-`` becomes ``m``, so
    names contain no dots.

    Examples:
        >>> format_point_value(0.212), format_point_value(9.0), format_point_value(1e-5)
        ('0p212', '9', '1em05')
    """
    return format(value, "g").replace(".", "p").replace("-", "m")


def _fill(pattern: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], pattern)


class _Model(BaseModel):
    # Non-finite numbers (``.inf``, ``.nan``) are never a luminosity, a count or a mass.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads ``true`` as 1 where a number is expected: ``events: true``
        # would be one event. Only signal ``parameters`` may hold booleans.
        if info.field_name == "parameters":
            return value
        items = value if isinstance(value, list) else [value]
        if any(isinstance(item, bool) for item in items):
            msg = f"a boolean ({str(value).lower()}) is not a valid value here"
            raise ValueError(msg)
        return value


Name = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$",
        description="letters, digits and _ . + - (no spaces or slashes)",
    ),
]
FilePatterns = Annotated[list[str], Field(min_length=1)]


class DataSample(_Model):
    """A recorded data sample (one experiment, one energy point).

    Attributes:
        name: Unique sample name.
        experiment: ``Belle`` or ``Belle II``.
        machine: ``KEKB`` (Belle) or ``SuperKEKB`` (Belle II).
        ecms: Nominal centre-of-mass energy in GeV.
        luminosity: Integrated luminosity in fb^-1 of the full sample (the
            effective one is ``luminosity * scale``).
        luminosity_source: Where the luminosity comes from.
        experiments: Experiment numbers the sample spans.
        description: Free text.
        files: File patterns (default ``data/{name}/*.root``).
    """

    name: Name
    experiment: Literal["Belle", "Belle II"]
    machine: Literal["KEKB", "SuperKEKB"]
    ecms: float = Field(gt=0)
    luminosity: float = Field(gt=0)
    luminosity_source: str = Field(min_length=1)
    experiments: list[Annotated[int, Field(ge=0)]] = Field(default_factory=list)
    description: str = ""
    files: FilePatterns | None = None

    @model_validator(mode="after")
    def _machine_matches(self) -> DataSample:
        expected = {"Belle": "KEKB", "Belle II": "SuperKEKB"}[self.experiment]
        if self.machine != expected:
            msg = f"experiment {self.experiment!r} ran at {expected!r}, not {self.machine!r}"
            raise ValueError(msg)
        return self


class SimulationSample(_Model):
    """Simulated background of one process, modelling one or more data samples.

    Attributes:
        name: Unique sample name.
        process: Key into :data:`belleflow.processes.PROCESSES`.
        stands_for: Data samples this simulation models (same machine and
            ``ecms``); its luminosity is the sum of theirs.
        events: Generated events at full scale (after the generator filter).
        filter_efficiency: Fraction of produced events the generator-level
            filter keeps; the weight accounts for it.
        filter: Description of that filter (required when it is below 1).
        events_per_file: Production splits a sample into files of this many events.
        description: Free text.
        files: File patterns (default ``mc/{name}/*.root``).
    """

    name: Name
    process: str
    stands_for: list[str] = Field(min_length=1)
    events: float = Field(gt=0)
    filter_efficiency: float = Field(default=1.0, gt=0, le=1)
    filter: str = ""
    events_per_file: int = Field(default=1_000_000, gt=0)
    description: str = ""
    files: FilePatterns | None = None

    @field_validator("process")
    @classmethod
    def _known_process(cls, value: str) -> str:
        try:
            get_process(value)
        except KeyError as err:
            raise ValueError(str(err)) from None
        return value

    @model_validator(mode="after")
    def _filter_described(self) -> SimulationSample:
        if self.filter_efficiency < 1.0 and not self.filter.strip():
            msg = (
                f"filter_efficiency is {self.filter_efficiency} but the filter is not "
                "described: add a 'filter' key saying which events are kept"
            )
            raise ValueError(msg)
        return self


class SignalSample(_Model):
    """A signal model on a grid of masses (and lifetimes), one file per point.

    Attributes:
        name: Unique sample name; points are named
            ``{name}_m{mass}_ctau{ctau}`` (see :func:`format_point_value`).
        channel: Analysis channel that owns the signal.
        model: Model name.
        stands_for: Data samples the signal is normalised to (same machine and ``ecms``).
        masses: Mass grid in GeV, positive and strictly increasing.
        lifetimes: ``c tau`` grid in cm, non-negative and strictly increasing;
            0 means prompt.
        events_per_point: Generated events per grid point (not scaled by ``scale``).
        parameters: Model parameters (numbers, strings or booleans).
        description: Free text.
        files: File patterns with placeholders ``{name}``, ``{mass}``,
            ``{ctau}``, ``{point}`` (default ``signal/{name}/{point}.root``).
    """

    name: Name
    channel: Name
    model: str = Field(min_length=1)
    stands_for: list[str] = Field(min_length=1)
    masses: list[Annotated[float, Field(gt=0)]] = Field(min_length=1)
    lifetimes: list[Annotated[float, Field(ge=0)]] = Field(default_factory=lambda: [0.0])
    events_per_point: int = Field(gt=0)
    parameters: dict[str, float | int | str | bool] = Field(default_factory=dict)
    description: str = ""
    files: FilePatterns | None = None

    @field_validator("masses", "lifetimes")
    @classmethod
    def _increasing(cls, values: list[float]) -> list[float]:
        for before, after in itertools.pairwise(values):
            if after <= before:
                msg = f"grid must be strictly increasing, but {after:g} follows {before:g}"
                raise ValueError(msg)
        return values

    def points(self) -> Iterator[tuple[float, float]]:
        """Grid points ``(mass, ctau)``, mass-major."""
        for mass in self.masses:
            for ctau in self.lifetimes:
                yield mass, ctau

    def point_name(self, mass: float, ctau: float) -> str:
        """Name of one grid point, e.g. ``belle2_4mu_zprime_m0p212_ctau0``."""
        return f"{self.name}_m{format_point_value(mass)}_ctau{format_point_value(ctau)}"


class Skim(_Model):
    """A skim: a selection the production applies, and the samples it contains.

    Attributes:
        name: Unique skim name.
        description: What the skim keeps.
        processes: Simulation processes in the skim.
        channels: Channels whose signal samples are in the skim.
        data: Data samples in the skim; empty for all of them. A channel
            should read only data that its simulation stands for, or the
            unmodelled data shows up as an excess.
    """

    name: Name
    description: str = ""
    processes: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    data: list[str] = Field(default_factory=list)

    @field_validator("processes")
    @classmethod
    def _known_processes(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                get_process(value)
            except KeyError as err:
                raise ValueError(str(err)) from None
        return values


class Luminosity(NamedTuple):
    """Integrated luminosity in fb^-1: full and at the catalogue's scale."""

    full: float
    effective: float


@dataclass(frozen=True)
class SampleView:
    """One resolved sample: a data sample, a simulation sample or a signal point.

    Attributes:
        name: Sample name (for signals, the point name).
        kind: ``data``, ``simulation`` or ``signal``.
        entry: Where it is defined, e.g. ``simulation[3] 'belle2_4S_mumu'``.
        process: ``data`` for data, the process key for simulation, the
            signal model for signals.
        experiment: ``Belle`` or ``Belle II``.
        machine: ``KEKB`` or ``SuperKEKB``.
        ecms: Nominal centre-of-mass energy in GeV.
        luminosity: Full luminosity in fb^-1 (for simulation and signals: of
            the data samples they stand for).
        effective_luminosity: ``luminosity * scale``.
        events: Generated events at full scale (None for data).
        effective_events: Events at the catalogue's scale (None for data):
            ``max(1, round(events * scale))`` for simulation,
            ``events_per_point`` for signals.
        weight: Per-event weight: 1 for data;
            ``sigma[fb] * filter_efficiency * L_eff[fb^-1] / N_eff`` for
            simulation; ``L_eff[fb^-1] / N`` for signals, i.e. per fb of
            signal cross section (multiply by sigma in fb).
        cross_section_fb: Cross section at ``ecms`` in fb (simulation only).
        filter_efficiency: Generator filter efficiency (1 for data and signals).
        files: File patterns, placeholders filled (relative to ``data_root``,
            absolute, or URLs).
        stands_for: Data samples modelled (empty for data).
        experiments: Experiment numbers (from the data samples).
        parent: Catalogue entry name (for signal points, the signal name).
        channel: Channel owning a signal (None otherwise).
        mass: Signal mass in GeV (None otherwise).
        ctau: Signal ``c tau`` in cm (None otherwise).
        parameters: Signal model parameters.
        events_per_file: Production file size (simulation), else None.
    """

    name: str
    kind: Kind
    entry: str
    process: str
    experiment: str
    machine: str
    ecms: float
    luminosity: float
    effective_luminosity: float
    events: float | None
    effective_events: int | None
    weight: float
    cross_section_fb: float | None
    filter_efficiency: float
    files: tuple[str, ...]
    stands_for: tuple[str, ...] = ()
    experiments: tuple[int, ...] = ()
    parent: str = ""
    channel: str | None = None
    mass: float | None = None
    ctau: float | None = None
    parameters: dict[str, float | int | str | bool] = field(default_factory=dict)
    events_per_file: int | None = None

    @property
    def n_files(self) -> int | None:
        """Files the production writes (simulation: ``ceil(N_eff / events_per_file)``)."""
        if self.kind == "signal":
            return 1
        if self.effective_events is None or self.events_per_file is None:
            return None
        return max(1, math.ceil(self.effective_events / self.events_per_file))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dictionary of the view."""
        out: dict[str, Any] = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in {"files", "stands_for", "experiments", "parameters"}
        }
        out["files"] = list(self.files)
        out["stands_for"] = list(self.stands_for)
        out["experiments"] = list(self.experiments)
        out["parameters"] = dict(self.parameters)
        out["n_files"] = self.n_files
        return out


class Catalogue(_Model):
    """The dataset catalogue: data, simulation, signals and skims.

    Load it with :func:`belleflow.catalogue.load_catalogue`, which also resolves
    ``data_root`` and remembers the YAML file for error messages.

    Attributes:
        name: Catalogue name.
        description: Free text.
        data_root_setting: The ``data_root`` key: folder the relative file
            patterns start from, relative to the YAML file that sets it, or
            absolute. The resolved folder is :attr:`data_root`.
        scale: Fraction of each data sample's luminosity the catalogue stands
            for, in (0, 1].
        signal_events_per_point: If set, replaces every signal's ``events_per_point``.
        data: Data samples.
        simulation: Background simulation samples.
        signals: Signal samples.
        skims: Skims.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        validate_by_name=True,
        validate_by_alias=True,
    )

    name: Name
    description: str = ""
    data_root_setting: str = Field(
        default=".", alias="data_root", min_length=1, pattern=r"^[^\x00-\x1f\x7f]*$"
    )
    scale: float = Field(default=1.0, gt=0, le=1)
    signal_events_per_point: int | None = Field(default=None, gt=0)
    data: list[DataSample] = Field(default_factory=list)
    simulation: list[SimulationSample] = Field(default_factory=list)
    signals: list[SignalSample] = Field(default_factory=list)
    skims: list[Skim] = Field(default_factory=list)

    _source: Path | None = PrivateAttr(default=None)
    _root: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _semantics(self) -> Catalogue:
        problems = self.semantic_problems()
        if problems:
            kind = "catalogue_semantics"
            raise PydanticCustomError(
                kind,
                "{summary}",
                {"summary": "; ".join(f"{w}: {m}" for w, m in problems), "problems": problems},
            )
        return self

    # ------------------------------------------------------------------ checks

    def semantic_problems(self) -> list[tuple[str, str]]:
        """Cross-reference checks beyond the schema.

        Returns:
            ``(where, message)`` pairs; ``where`` is like
            ``simulation[3] 'belle2_4S_mumu'``. Empty if the catalogue is consistent.
        """
        problems: list[tuple[str, str]] = []
        data_by_name = {d.name: d for d in self.data}

        seen: dict[str, str] = {}

        def claim(name: str, where: str) -> None:
            if name in seen:
                problems.append(
                    (where, f"name: duplicate sample name {name!r} (also {seen[name]})")
                )
            else:
                seen[name] = where

        for i, d in enumerate(self.data):
            claim(d.name, f"data[{i}] {d.name!r}")
            problems += _pattern_problems(d.files, "data", f"data[{i}] {d.name!r}")
        for i, s in enumerate(self.simulation):
            where = f"simulation[{i}] {s.name!r}"
            claim(s.name, where)
            problems += _pattern_problems(s.files, "simulation", where)
            ref = _stands_for_problems(s.stands_for, data_by_name, where)
            problems += ref
            if not ref:
                ecms = data_by_name[s.stands_for[0]].ecms
                if PROCESSES[s.process].cross_section_at(ecms) <= 0:
                    problems.append(
                        (
                            where,
                            (
                                f"process: {s.process!r} is not produced at ecms = {ecms} GeV "
                                f"(below its threshold {PROCESSES[s.process].threshold:.4f} GeV)"
                            ),
                        )
                    )
        for i, g in enumerate(self.signals):
            where = f"signals[{i}] {g.name!r}"
            claim(g.name, where)
            problems += _pattern_problems(g.files, "signals", where)
            problems += _stands_for_problems(g.stands_for, data_by_name, where)
            for mass, ctau in g.points():
                claim(g.point_name(mass, ctau), f"{where} point m={mass:g} ctau={ctau:g}")
            for pattern in g.files or []:
                used = set(_PLACEHOLDER_RE.findall(pattern))
                if "point" in used:
                    continue
                if len(g.masses) > 1 and "mass" not in used:
                    problems.append(
                        (where, f"files: pattern {pattern!r} lacks {{mass}} or {{point}}")
                    )
                if len(g.lifetimes) > 1 and "ctau" not in used:
                    problems.append(
                        (where, f"files: pattern {pattern!r} lacks {{ctau}} or {{point}}")
                    )
        skim_names: dict[str, int] = {}
        for i, k in enumerate(self.skims):
            where = f"skims[{i}] {k.name!r}"
            if k.name in skim_names:
                problems.append(
                    (
                        where,
                        f"name: duplicate skim name {k.name!r} (also skims[{skim_names[k.name]}])",
                    )
                )
            skim_names.setdefault(k.name, i)
            unknown = [name for name in k.data if name not in data_by_name]
            if unknown:
                problems.append((where, f"data: unknown data sample(s) {unknown}"))
        return problems

    # --------------------------------------------------------------- resolving

    @property
    def source(self) -> Path | None:
        """The YAML file the catalogue was loaded from (None if built in Python)."""
        return self._source

    @property
    def data_root(self) -> Path:
        """Resolved folder of relative file patterns (set by the loader).

        Without the loader: ``$BELLEFLOW_DATA_ROOT`` if set, else the
        ``data_root`` field relative to the working directory.
        """
        if self._root is not None:
            return self._root
        env = os.environ.get(DATA_ROOT_ENV)
        return Path(env or self.data_root_setting).expanduser().resolve()

    def _bind(self, source: Path | None, root: Path) -> Catalogue:
        self._source = source
        self._root = root
        return self

    def _where(self) -> str:
        return str(self._source) if self._source else f"catalogue {self.name!r}"

    def data_sample(self, name: str) -> DataSample:
        """A data sample by name.

        Raises:
            CatalogueError: If there is none.
        """
        for d in self.data:
            if d.name == name:
                return d
        msg = f"{self._where()}: no data sample {name!r}"
        raise CatalogueError(msg)

    def iter_samples(self, kind: Kind | None = None) -> Iterator[SampleView]:
        """All samples as :class:`SampleView`, signals expanded to grid points.

        Args:
            kind: Only this kind (``data``, ``simulation`` or ``signal``).

        Yields:
            Views in catalogue order: data, simulation, then signal points.
        """
        if kind in (None, "data"):
            for i, d in enumerate(self.data):
                yield self._data_view(i, d)
        if kind in (None, "simulation"):
            for i, s in enumerate(self.simulation):
                yield self._simulation_view(i, s)
        if kind in (None, "signal"):
            for i, g in enumerate(self.signals):
                yield from self._signal_views(i, g)

    @property
    def samples(self) -> list[SampleView]:
        """All samples (see :meth:`iter_samples`)."""
        return list(self.iter_samples())

    def sample(self, name: str) -> SampleView:
        """One sample (or signal point) by name.

        Raises:
            CatalogueError: If there is none.
        """
        for view in self.iter_samples():
            if view.name == name:
                return view
        msg = f"{self._where()}: no sample {name!r}"
        raise CatalogueError(msg)

    def _stood_for(self, names: list[str]) -> tuple[DataSample, list[DataSample]]:
        data = [self.data_sample(n) for n in names]
        return data[0], data

    def _data_view(self, i: int, d: DataSample) -> SampleView:
        return SampleView(
            name=d.name,
            kind="data",
            entry=f"data[{i}] {d.name!r}",
            process="data",
            experiment=d.experiment,
            machine=d.machine,
            ecms=d.ecms,
            luminosity=d.luminosity,
            effective_luminosity=d.luminosity * self.scale,
            events=None,
            effective_events=None,
            weight=1.0,
            cross_section_fb=None,
            filter_efficiency=1.0,
            files=tuple(_fill(p, {"name": d.name}) for p in d.files or [DEFAULT_FILES["data"]]),
            experiments=tuple(d.experiments),
            parent=d.name,
        )

    def _simulation_view(self, i: int, s: SimulationSample) -> SampleView:
        first, data = self._stood_for(s.stands_for)
        lumi = math.fsum(d.luminosity for d in data)
        lumi_eff = lumi * self.scale
        n_eff = max(1, round(s.events * self.scale))
        sigma_fb = PROCESSES[s.process].cross_section_at(first.ecms) * 1.0e6
        return SampleView(
            name=s.name,
            kind="simulation",
            entry=f"simulation[{i}] {s.name!r}",
            process=s.process,
            experiment=first.experiment,
            machine=first.machine,
            ecms=first.ecms,
            luminosity=lumi,
            effective_luminosity=lumi_eff,
            events=s.events,
            effective_events=n_eff,
            weight=sigma_fb * s.filter_efficiency * lumi_eff / n_eff,
            cross_section_fb=sigma_fb,
            filter_efficiency=s.filter_efficiency,
            files=tuple(
                _fill(p, {"name": s.name}) for p in s.files or [DEFAULT_FILES["simulation"]]
            ),
            stands_for=tuple(s.stands_for),
            experiments=tuple(sorted({e for d in data for e in d.experiments})),
            parent=s.name,
            events_per_file=s.events_per_file,
        )

    def _signal_views(self, i: int, g: SignalSample) -> Iterator[SampleView]:
        first, data = self._stood_for(g.stands_for)
        lumi = math.fsum(d.luminosity for d in data)
        lumi_eff = lumi * self.scale
        n = self.signal_events_per_point or g.events_per_point
        for mass, ctau in g.points():
            point = g.point_name(mass, ctau)
            values = {
                "name": g.name,
                "mass": format_point_value(mass),
                "ctau": format_point_value(ctau),
                "point": point,
            }
            yield SampleView(
                name=point,
                kind="signal",
                entry=f"signals[{i}] {g.name!r} point m={mass:g} ctau={ctau:g}",
                process=g.model,
                experiment=first.experiment,
                machine=first.machine,
                ecms=first.ecms,
                luminosity=lumi,
                effective_luminosity=lumi_eff,
                events=float(n),
                effective_events=n,
                weight=lumi_eff / n,
                cross_section_fb=None,
                filter_efficiency=1.0,
                files=tuple(_fill(p, values) for p in g.files or [DEFAULT_FILES["signals"]]),
                stands_for=tuple(g.stands_for),
                experiments=tuple(sorted({e for d in data for e in d.experiments})),
                parent=g.name,
                channel=g.channel,
                mass=mass,
                ctau=ctau,
                parameters=dict(g.parameters),
            )

    def _view(self, sample: SampleView | str) -> SampleView:
        return self.sample(sample) if isinstance(sample, str) else sample

    def _locate(self, pattern: str) -> str:
        if is_url(pattern):
            return pattern
        path = Path(pattern).expanduser()
        return str(path if path.is_absolute() else self.data_root / path)

    def resolve_files(self, sample: SampleView | str, *, check: bool = True) -> list[str]:
        """Concrete files of a sample: globs expanded and sorted, URLs kept as they are.

        Args:
            sample: A view from :meth:`iter_samples` or a sample name.
            check: Raise if a pattern matches no file or a file does not exist
                (URLs are not checked).

        Returns:
            Paths (absolute) and URLs, without duplicates, in pattern order
            (each glob's matches sorted).

        Raises:
            CatalogueError: With ``check``, naming the catalogue file, the
                sample entry and the missing path or pattern.
        """
        view = self._view(sample)
        out: list[str] = []
        for pattern in view.files:
            located = self._locate(pattern)
            if is_url(located):
                found = [located]
            elif _GLOB_CHARS & set(located):
                found = sorted(glob.glob(located))  # noqa: PTH207 - patterns are strings
                if not found and check:
                    msg = (
                        f"{self._where()}: {view.entry}: files: no file matches "
                        f"{pattern!r} (looked for {located}; data_root is {self.data_root})"
                    )
                    raise CatalogueError(msg)
            elif Path(located).exists():
                found = [located]
            elif check:
                msg = (
                    f"{self._where()}: {view.entry}: files: file not found: {located} "
                    f"(pattern {pattern!r}; data_root is {self.data_root})"
                )
                raise CatalogueError(msg)
            else:
                found = []
            out.extend(f for f in found if f not in out)
        return out

    def missing_files(self) -> list[str]:
        """Messages for every sample whose file patterns match nothing (URLs not checked)."""
        missing: list[str] = []
        for view in self.iter_samples():
            try:
                self.resolve_files(view, check=True)
            except CatalogueError as err:
                missing.append(str(err))
        return missing

    def check_files(self) -> None:
        """Check that every sample's files exist.

        Raises:
            CatalogueError: Listing the samples with missing files (at most 20 shown).
        """
        missing = self.missing_files()
        if missing:
            shown = "\n  ".join(missing[:20])
            more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
            msg = f"{len(missing)} sample(s) with missing files:\n  {shown}{more}"
            raise CatalogueError(msg)

    # ------------------------------------------------------------------ queries

    def skim(self, name: str) -> list[SampleView]:
        """Samples in a skim: its data, the simulation of its processes, its channels' signals.

        Raises:
            CatalogueError: If there is no such skim.
        """
        for k in self.skims:
            if k.name == name:
                processes, channels, data = set(k.processes), set(k.channels), set(k.data)
                return [
                    v
                    for v in self.iter_samples()
                    if (v.kind == "data" and (not data or v.name in data))
                    or (v.kind == "simulation" and v.process in processes)
                    or (v.kind == "signal" and v.channel in channels)
                ]
        known = ", ".join(k.name for k in self.skims) or "none"
        msg = f"{self._where()}: no skim {name!r} (skims: {known})"
        raise CatalogueError(msg)

    def luminosity(self, experiment: str | None = None) -> Luminosity:
        """Total data luminosity in fb^-1, full and at the catalogue's scale.

        Args:
            experiment: ``Belle`` or ``Belle II``; None for both.

        Raises:
            CatalogueError: For an experiment with no data sample.
        """
        data = [d for d in self.data if experiment is None or d.experiment == experiment]
        if experiment is not None and not data:
            known = sorted({d.experiment for d in self.data})
            msg = f"{self._where()}: no data of experiment {experiment!r} (have {known})"
            raise CatalogueError(msg)
        full = math.fsum(d.luminosity for d in data)
        return Luminosity(full=full, effective=full * self.scale)

    def luminosity_by_experiment(self) -> dict[str, Luminosity]:
        """:meth:`luminosity` for each experiment present, in catalogue order."""
        experiments = dict.fromkeys(d.experiment for d in self.data)
        return {e: self.luminosity(e) for e in experiments}

    def total_events(self, kind: Kind = "simulation") -> int:
        """Sum of effective generated events of one kind (production size)."""
        return sum(v.effective_events or 0 for v in self.iter_samples(kind))


def _pattern_problems(
    patterns: list[str] | None, section: str, where: str
) -> list[tuple[str, str]]:
    problems = []
    allowed = _PLACEHOLDERS[section]
    for pattern in patterns or []:
        if not pattern.strip():
            problems.append((where, "files: empty file pattern"))
        malformed = pattern_syntax_problem(pattern)
        if malformed:
            problems.append((where, f"files: malformed pattern {pattern!r}: {malformed}"))
            continue
        for used in _PLACEHOLDER_RE.findall(pattern):
            if used not in allowed:
                problems.append(
                    (
                        where,
                        (
                            f"files: unknown placeholder {{{used}}} in {pattern!r} "
                            f"(allowed: {', '.join('{' + a + '}' for a in sorted(allowed))})"
                        ),
                    )
                )
    return problems


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def pattern_syntax_problem(pattern: str) -> str:
    """What is wrong with the syntax of a file pattern ("" if nothing).

    Refused: control characters, leading or trailing spaces, braces that
    are not a ``{placeholder}``, an unclosed glob ``[`` and spaces in a URL.

    Examples:
        >>> pattern_syntax_problem("mc/{name}/*.root")
        ''
        >>> pattern_syntax_problem("mc/{name/*.root")
        "unbalanced '{' or '}'"
    """
    if _CONTROL_RE.search(pattern):
        return "contains a control character"
    if pattern != pattern.strip():
        return "leading or trailing spaces"
    if "{" in (rest := _PLACEHOLDER_RE.sub("", pattern)) or "}" in rest:
        return "unbalanced '{' or '}'"
    if is_url(pattern):
        if " " in pattern:
            return "a URL cannot hold spaces"
    elif pattern.count("[") != pattern.count("]"):
        return "unclosed '[' in a glob"
    return ""


def _stands_for_problems(
    names: list[str], data_by_name: dict[str, DataSample], where: str
) -> list[tuple[str, str]]:
    unknown = [n for n in names if n not in data_by_name]
    if unknown:
        known = ", ".join(data_by_name) or "none"
        return [
            (
                where,
                (
                    f"stands_for: unknown data sample(s) {', '.join(map(repr, unknown))} "
                    f"(data samples: {known})"
                ),
            )
        ]
    problems = []
    if len(set(names)) != len(names):
        problems.append((where, "stands_for: a data sample is listed twice"))
    first = data_by_name[names[0]]
    for n in names[1:]:
        d = data_by_name[n]
        if d.machine != first.machine or not math.isclose(
            d.ecms, first.ecms, rel_tol=_ECMS_TOLERANCE
        ):
            problems.append(
                (
                    where,
                    (
                        f"stands_for: incompatible data samples {first.name!r} "
                        f"({first.machine}, {first.ecms} GeV) and {d.name!r} "
                        f"({d.machine}, {d.ecms} GeV): one sample models one machine and energy"
                    ),
                )
            )
    return problems
