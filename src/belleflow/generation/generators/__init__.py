"""Event generators of all background processes (and, via signals, the signal models).

Importing this package registers every generator with
:func:`belleflow.generation.truth.register_generator`.
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

__all__ = [
    "alp_photon",
    "bbbar",
    "continuum",
    "dark_higgsstrahlung",
    "fourlepton",
    "leptophilic_scalar",
    "mumu_tautau",
    "qed",
    "signals",
    "twophoton",
]
