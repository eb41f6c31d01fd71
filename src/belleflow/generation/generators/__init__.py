"""Event generators of all background processes (and, via signals, the signal models).

Importing this package registers every generator with
:func:`belleflow.generation.truth.register_generator`.
"""

from __future__ import annotations

from belleflow.generation import signals
from belleflow.generation.generators import bbbar, continuum, fourlepton, qed, twophoton
from belleflow.generation.signal_models import (
    alp_photon,  # noqa: F401
    dark_higgsstrahlung,  # noqa: F401
    leptophilic_scalar,  # noqa: F401
    mumu_tautau,  # noqa: F401
)

__all__ = ["bbbar", "continuum", "fourlepton", "qed", "signals", "twophoton"]
