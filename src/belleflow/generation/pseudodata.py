"""Pseudo-data: unweighted mixtures of all background processes, optionally with a signal.

Real Belle and Belle II data are not public. For every data sample of a
catalogue, belleflow makes *pseudo-data*: each background process of
:data:`belleflow.processes.PROCESSES` that has a registered generator
contributes a Poisson-distributed number of events with mean
``sigma(ecms) x filter_efficiency x L_eff`` (the cross section from
:meth:`~belleflow.processes.Process.cross_section_at`, the filter efficiency of
the catalogue's simulation of that process, the sample's effective
luminosity). The events are generated with the sample's machine at its
energy, unweighted (accept-reject on ``w / w_max`` for weighted generators),
shuffled, simulated without MC truth and written as ``kind="data"``.

A declared signal can be injected (:class:`InjectedSignal`); what was
injected is recorded in the file metadata (``generator.injected_signal``),
never in the event content. The per-process counts of each file are recorded
in the metadata too (``generator.components``): analyses must not read them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np

from belleflow.generation.truth import MC_FIELDS, EventGenerator, GeneratorContext, TruthEvents
from belleflow.processes import PROCESSES

__all__ = [
    "SIGNAL_COMPONENT",
    "Component",
    "InjectedSignal",
    "ProcessExpectation",
    "draw_counts",
    "expected_composition",
    "generate_mixture",
    "split_counts",
    "unweighted",
]

#: Name of the injected signal among the components of a pseudo-data file.
SIGNAL_COMPONENT = "injected_signal"


@dataclass(frozen=True)
class InjectedSignal:
    """A signal to inject into pseudo-data.

    Exactly one of ``n_events`` (a fixed number per data sample) and
    ``cross_section_fb`` (Poisson mean ``sigma x L_eff``) is given.

    Attributes:
        model: Signal model (a registered generator name).
        mass: Mass in GeV.
        ctau: ``c tau`` in cm (0: prompt).
        n_events: Events injected into each data sample.
        cross_section_fb: Cross section (times branching fraction) in fb.
        parameters: Extra model parameters (default: those of the catalogue's
            first signal sample of this model).
    """

    model: str
    mass: float
    ctau: float = 0.0
    n_events: int | None = None
    cross_section_fb: float | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.n_events is None) == (self.cross_section_fb is None):
            msg = "give exactly one of n_events and cross_section_fb for an injected signal"
            raise ValueError(msg)
        if self.mass <= 0 or self.ctau < 0:
            msg = f"injected signal needs mass > 0 and ctau >= 0, got {self.mass}, {self.ctau}"
            raise ValueError(msg)
        if (self.n_events is not None and self.n_events < 0) or (
            self.cross_section_fb is not None and self.cross_section_fb < 0
        ):
            msg = "the injected number of events or cross section must be >= 0"
            raise ValueError(msg)

    @classmethod
    def parse(cls, text: str) -> InjectedSignal:
        """Parse ``MODEL:MASS[:CTAU]:AMOUNT``; AMOUNT is events, or a cross section ending in ``fb``.

        Examples:
            >>> InjectedSignal.parse("zprime_lmu_ltau:1.5:200").n_events
            200
            >>> InjectedSignal.parse("zprime_lmu_ltau:1.5:0:0.8fb").cross_section_fb
            0.8

        Raises:
            ValueError: For any other form.
        """
        parts = text.strip().split(":")
        if len(parts) not in (3, 4) or not parts[0]:
            msg = (
                f"cannot parse injected signal {text!r}: use MODEL:MASS[:CTAU]:NEVENTS "
                "or MODEL:MASS[:CTAU]:XSECfb (e.g. zprime_lmu_ltau:1.5:0:200)"
            )
            raise ValueError(msg)
        try:
            mass = float(parts[1])
            ctau = float(parts[2]) if len(parts) == 4 else 0.0
            amount = parts[-1].strip()
            match = re.fullmatch(r"([0-9.eE+-]+)\s*fb", amount)
            if match:
                return cls(parts[0], mass, ctau, cross_section_fb=float(match[1]))
            return cls(parts[0], mass, ctau, n_events=int(amount))
        except ValueError as err:
            msg = f"cannot parse injected signal {text!r}: {err}"
            raise ValueError(msg) from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (for file metadata)."""
        return {
            "model": self.model,
            "mass": self.mass,
            "ctau": self.ctau,
            "n_events": self.n_events,
            "cross_section_fb": self.cross_section_fb,
            "parameters": dict(self.parameters),
        }


@dataclass(frozen=True)
class ProcessExpectation:
    """Expected number of events of one process in one data sample.

    Attributes:
        process: Process name.
        cross_section_fb: Cross section at the sample's ecms, fb.
        filter_efficiency: Generator-filter efficiency of the catalogue's
            simulation of this process (1 if none).
        luminosity_fb: Effective luminosity of the data sample, fb^-1.
    """

    process: str
    cross_section_fb: float
    filter_efficiency: float
    luminosity_fb: float

    @property
    def expected(self) -> float:
        """Mean number of events, ``sigma x eff x L``."""
        return self.cross_section_fb * self.filter_efficiency * self.luminosity_fb


@dataclass(frozen=True)
class Component:
    """One process (or the injected signal) in a pseudo-data file.

    Attributes:
        name: Process name, or :data:`SIGNAL_COMPONENT`.
        generator: Registered generator name.
        count: Events of this component in the file.
        parameters: Parameters passed to the generator.
    """

    name: str
    generator: str
    count: int
    parameters: Mapping[str, Any] = field(default_factory=dict)


def _filter_efficiency(catalogue: Any, process: str, data_view: Any) -> float:
    """The filter efficiency the catalogue's simulation of ``process`` uses.

    Preference: a simulation sample standing for this data sample, then one
    of the same experiment, then any; 1 if the process is not simulated.
    """
    sims = [v for v in catalogue.iter_samples("simulation") if v.process == process]
    for choose in (
        lambda v: data_view.name in v.stands_for,
        lambda v: v.experiment == data_view.experiment,
        lambda _v: True,
    ):
        found = [v for v in sims if choose(v)]
        if found:
            return float(found[0].filter_efficiency)
    return 1.0


def expected_composition(
    catalogue: Any, data_view: Any, generators: Mapping[str, EventGenerator]
) -> tuple[list[ProcessExpectation], list[str]]:
    """Expected events per background process of one data sample.

    Args:
        catalogue: A :class:`belleflow.catalogue.Catalogue`.
        data_view: The data sample's :class:`~belleflow.catalogue.SampleView`.
        generators: Registered generators by name.

    Returns:
        The expectations of the processes with a generator and a non-zero
        cross section at the sample's energy, and the names of the processes
        left out because they have no generator.
    """
    out: list[ProcessExpectation] = []
    missing: list[str] = []
    for name, process in PROCESSES.items():
        sigma_fb = process.cross_section_at(data_view.ecms) * 1.0e6
        if sigma_fb <= 0:
            continue
        if name not in generators:
            missing.append(name)
            continue
        out.append(
            ProcessExpectation(
                process=name,
                cross_section_fb=sigma_fb,
                filter_efficiency=_filter_efficiency(catalogue, name, data_view),
                luminosity_fb=data_view.effective_luminosity,
            )
        )
    return out, missing


def draw_counts(
    expectations: list[ProcessExpectation],
    rng: np.random.Generator,
    *,
    inject: InjectedSignal | None = None,
    luminosity_fb: float = 0.0,
) -> dict[str, int]:
    """Poisson counts per process (and the injected signal, if any).

    Args:
        expectations: From :func:`expected_composition`.
        rng: Random generator.
        inject: Signal to inject: a fixed count, or Poisson with mean
            ``cross_section_fb x luminosity_fb``.
        luminosity_fb: Effective luminosity for the injected cross section.

    Returns:
        Counts by process name (and :data:`SIGNAL_COMPONENT`).
    """
    counts = {e.process: int(rng.poisson(e.expected)) for e in expectations}
    if inject is not None:
        if inject.n_events is not None:
            counts[SIGNAL_COMPONENT] = int(inject.n_events)
        else:
            assert inject.cross_section_fb is not None  # by InjectedSignal's check
            counts[SIGNAL_COMPONENT] = int(rng.poisson(inject.cross_section_fb * luminosity_fb))
    return counts


def split_counts(counts: Mapping[str, int], n_files: int) -> list[dict[str, int]]:
    """Share each component's count evenly among ``n_files`` files.

    Examples:
        >>> split_counts({"mumu": 5, "ee": 2}, 2)
        [{'mumu': 3, 'ee': 1}, {'mumu': 2, 'ee': 1}]
    """
    return [
        {
            name: count // n_files + (1 if i < count % n_files else 0)
            for name, count in counts.items()
        }
        for i in range(n_files)
    ]


def _select_fields(truth: TruthEvents) -> TruthEvents:
    parts = truth.particles
    if set(parts.fields) == set(MC_FIELDS):
        return truth
    return TruthEvents(ak.zip({f: parts[f] for f in MC_FIELDS}, depth_limit=2), truth.weight)


def _concatenate(truths: list[TruthEvents]) -> TruthEvents:
    truths = [_select_fields(t) for t in truths]
    if len(truths) == 1:
        return truths[0]
    particles = ak.concatenate([t.particles for t in truths], axis=0)
    return TruthEvents(particles, np.concatenate([np.asarray(t.weight) for t in truths]))


def unweighted(
    generator: EventGenerator, n: int, context: GeneratorContext, *, batch: int = 100_000
) -> TruthEvents:
    """``n`` events of unit weight from a possibly weighted generator.

    Events are kept with probability ``w / w_max`` (``w_max`` the largest
    weight of each batch, an approximation that is exact when the generator's
    weights are bounded by it), until ``n`` are kept.

    Raises:
        ValueError: If the generator returns negative weights or none positive.
    """
    kept: list[TruthEvents] = []
    have = 0
    acceptance: float | None = None  # unknown until a weighted batch is seen
    while have < n:
        need = n - have
        if acceptance is None:
            ask = need  # unit-weight generators need exactly one call
        else:
            ask = min(math.ceil(need / acceptance * 1.1) + 10, max(batch, need))
        truth = generator(ask, context)
        weight = np.asarray(truth.weight, dtype=np.float64)
        if np.all(weight == 1.0):
            accepted = truth
        else:
            if np.any(weight < 0) or not np.any(weight > 0):
                msg = "cannot unweight a generator with negative or no positive weights"
                raise ValueError(msg)
            keep = context.rng.random(len(weight)) * weight.max() < weight
            acceptance = max(float(keep.mean()), 1e-4)
            accepted = TruthEvents(truth.particles[keep], np.ones(int(keep.sum())))
        take = min(len(accepted), need)
        if take < len(accepted):
            accepted = TruthEvents(accepted.particles[:take], accepted.weight[:take])
        kept.append(accepted)
        have += take
    if not kept:
        return _concatenate([generator(0, context)])
    return _concatenate(kept)


def generate_mixture(
    components: list[Component],
    generators: Mapping[str, EventGenerator],
    machine: Any,
    rng: np.random.Generator,
    *,
    chunk_size: int = 100_000,
) -> Iterator[TruthEvents]:
    """Shuffled, unweighted events of several components, in chunks.

    The order of the whole file is drawn first (a permutation of component
    labels); each chunk then generates just the events its slice needs and
    puts them in that order, so memory is bounded by ``chunk_size`` whatever
    the file size.

    Yields:
        :class:`TruthEvents` of at most ``chunk_size`` events, weights 1.
    """
    counts = np.array([c.count for c in components], dtype=np.int64)
    labels = rng.permutation(np.repeat(np.arange(len(components)), counts))
    for start in range(0, len(labels), chunk_size):
        chunk = labels[start : start + chunk_size]
        per_component = np.bincount(chunk, minlength=len(components))
        parts: list[TruthEvents] = []
        for comp, count in zip(components, per_component, strict=True):
            if count == 0:
                continue
            context = GeneratorContext(machine=machine, rng=rng, parameters=comp.parameters)
            truth = unweighted(generators[comp.generator], int(count), context)
            parts.append(truth)
        mixed = _concatenate(parts)
        # Grouped by component -> the drawn order: position k of the sorted
        # labels goes to where that label sits in the chunk.
        order = np.argsort(chunk, kind="stable")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        yield TruthEvents(mixed.particles[inverse], np.ones(len(chunk)))
