"""Every generator of belleflow, registered: background processes and signal models.

Importing a generator module registers its generators
(:func:`belleflow.generation.truth.register_generator`); this module imports
them all, so that ``load_generators()`` sees the whole production. Modules
that only need one generator import its module directly.
"""

from __future__ import annotations

from belleflow.generation import signals
from belleflow.generation.generators import bbbar, continuum, fourlepton, qed, twophoton
from belleflow.generation.signal_models import (
    alp_photon,
    dark_higgsstrahlung,
    leptophilic_scalar,
    mumu_tautau,
)
from belleflow.generation.truth import EventGenerator, registered_generators

__all__ = [
    "alp_photon",
    "bbbar",
    "continuum",
    "dark_higgsstrahlung",
    "fourlepton",
    "leptophilic_scalar",
    "load_generators",
    "mumu_tautau",
    "qed",
    "signals",
    "twophoton",
]


def load_generators() -> dict[str, EventGenerator]:
    """Every registered generator, by process or signal-model name."""
    return registered_generators()
