"""belleflow: dark-sector searches of Belle and Belle II on Dask.

The framework lives here; the channel processors live in
``belleflow_channels`` and are found through the ``belleflow.channels``
entry-point group.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("belleflow")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0+unknown"

__all__ = ["__version__"]
