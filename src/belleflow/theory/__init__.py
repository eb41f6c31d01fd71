"""The dark-sector models as the analysis sees them: mass ranges, grids, reference rates.

Channels and the limit backend take the rates that convert a limit on
sigma x B into a coupling from here; the synthetic production
(:mod:`belleflow.generation`) generates the same models and imports these
numbers, so the analysis does not depend on the production.
"""

from __future__ import annotations

__all__ = ["ALPHA"]

#: Fine-structure constant at low energy.
ALPHA = 1.0 / 137.035999
