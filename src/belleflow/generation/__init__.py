"""Synthetic Belle / Belle II production: event generators, detector, files."""

from __future__ import annotations

from belleflow.generation.truth import (
    MC_FIELDS,
    EventGenerator,
    GeneratorContext,
    TruthEvents,
    register_generator,
    registered_generators,
)

__all__ = [
    "MC_FIELDS",
    "EventGenerator",
    "GeneratorContext",
    "TruthEvents",
    "register_generator",
    "registered_generators",
]
