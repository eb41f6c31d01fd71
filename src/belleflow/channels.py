"""Registry of dark-sector channels, found through entry points.

A channel is registered in the ``belleflow.channels`` entry-point group by the
package that provides it (belleflow's own channels live in
``belleflow_channels``), so another package can add channels without
touching belleflow::

    [project.entry-points."belleflow.channels"]
    four_muon = "belleflow_channels.four_muon:channel"
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

__all__ = ["ENTRY_POINT_GROUP", "ChannelInfo", "available_channels", "load_channel"]

ENTRY_POINT_GROUP = "belleflow.channels"


@dataclass(frozen=True)
class ChannelInfo:
    """What ``belleflow channels`` lists about one channel."""

    name: str
    target: str
    description: str


@cache
def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_channels() -> list[ChannelInfo]:
    """The registered channels, sorted by name, each with a one-line description."""
    infos = []
    for name, ep in sorted(_entry_points().items()):
        channel = load_channel(name)
        doc = getattr(channel, "description", None) or (channel.__doc__ or "").strip()
        infos.append(ChannelInfo(name, ep.value, doc.splitlines()[0] if doc else ""))
    return infos


def load_channel(name: str) -> Any:
    """Load the channel registered under ``name``.

    Raises:
        KeyError: No channel of that name; the message lists the known ones.
    """
    points = _entry_points()
    if name not in points:
        known = ", ".join(sorted(points)) or "none registered"
        msg = f"unknown channel {name!r} (known: {known})"
        raise KeyError(msg)
    return points[name].load()
