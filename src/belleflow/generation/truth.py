"""Generator-level events: the interface between event generators and the detector.

Every event generator returns :class:`TruthEvents`: per event, the full
decay tree of generated particles in the **lab frame** (already boosted with
the sample's machine, crossing angle included), in the layout of the
ntuple's ``MCParticle`` collection, plus a per-event weight. The detector
simulation turns the final-state particles of a ``TruthEvents`` into
reconstructed tracks, photons and vertices; the particles themselves are
written as ``MCParticle`` for simulation.

A particle is *final state* when no other particle names it as mother;
unstable particles the detector sees decay (K_S, Lambda, pi0, ...) must have
their daughters generated, with production vertices displaced according to
the mother's lifetime.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import awkward as ak
import numpy as np

__all__ = [
    "MC_FIELDS",
    "EventGenerator",
    "GeneratorContext",
    "TruthEvents",
    "register_generator",
    "registered_generators",
]

#: Fields of each generated particle (the ntuple's MCParticle variables).
MC_FIELDS = ("PDG", "mother", "px", "py", "pz", "E", "prodVertexX", "prodVertexY", "prodVertexZ")


@dataclass(frozen=True)
class TruthEvents:
    """A batch of generated events.

    Attributes:
        particles: ``n * var * {PDG, mother, px, py, pz, E, prodVertexX/Y/Z}``;
            momenta in GeV in the lab frame, vertices in cm, ``mother`` the
            index of the mother within the event or -1.
        weight: Per-event generator weight (1 for unweighted generation).
    """

    particles: ak.Array
    weight: np.ndarray

    def __post_init__(self) -> None:
        missing = [f for f in MC_FIELDS if f not in self.particles.fields]
        if missing:
            msg = f"TruthEvents.particles lacks fields {missing}"
            raise ValueError(msg)
        if len(self.weight) != len(self.particles):
            msg = f"{len(self.weight)} weights for {len(self.particles)} events"
            raise ValueError(msg)

    def __len__(self) -> int:
        return len(self.particles)


@dataclass(frozen=True)
class GeneratorContext:
    """What a generator needs besides the number of events.

    Attributes:
        machine: The sample's collider configuration (``belleflow.beams.Machine``),
            already scaled to the sample's centre-of-mass energy.
        rng: The random generator to draw from (seeded by the production).
        parameters: Process or signal-model parameters from the catalogue
            (for signals: ``mass``, ``ctau`` and the model's ``parameters``).
    """

    machine: Any
    rng: np.random.Generator
    parameters: Mapping[str, Any] = field(default_factory=dict)


class EventGenerator(Protocol):
    """Generate ``n`` events of one process."""

    def __call__(self, n: int, context: GeneratorContext) -> TruthEvents: ...


_GENERATORS: dict[str, EventGenerator] = {}


def register_generator(name: str) -> Callable[[EventGenerator], EventGenerator]:
    """Register a generator for the process (or signal model) ``name``.

    Examples:
        >>> @register_generator("example_process")  # doctest: +SKIP
        ... def generate(n, context): ...
    """

    def decorate(function: EventGenerator) -> EventGenerator:
        if name in _GENERATORS:
            msg = f"a generator for {name!r} is registered already"
            raise ValueError(msg)
        _GENERATORS[name] = function
        return function

    return decorate


def registered_generators() -> dict[str, EventGenerator]:
    """All registered generators by process or signal-model name."""
    return dict(_GENERATORS)
