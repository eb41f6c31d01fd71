"""Event generators of all background processes (and, via signals, the signal models).

Importing this package registers every generator with
:func:`belleflow.generation.truth.register_generator`.
"""

from __future__ import annotations

from belleflow.generation import signals
from belleflow.generation.generators import bbbar, continuum, fourlepton, qed, twophoton

__all__ = ["bbbar", "continuum", "fourlepton", "qed", "signals", "twophoton"]
