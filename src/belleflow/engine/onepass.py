"""One pass over the files for all channels of a run.

A run of several channels reads each chunk once: the chunks of every
channel's plan are merged into one list of coffea ``WorkItem`` objects
(:func:`merge_work_items`) whose ``usermeta`` names, under
:data:`CHANNELS_KEY`, the channels that want the chunk's sample, and one
coffea processor (:class:`OnePassProcessor`) hands the chunk's events to
each of those channels' processors. NanoEvents reads lazily and keeps the
buffers it read for the chunk, so the union of the channels' columns is read
once.

Each channel's result for a chunk stays separate: the processor returns
``{"channels": {name: ChannelChunk}}``, and the chunk guard
(:class:`belleflow.engine.executors.ChunkGuard`) turns it, channel by
channel, into the wrapped output a single-channel coffea run produces
(``{"out", "metrics", "processed"}``, ``retries``, ``failures``), retries
only the channels that failed, and stores each channel's checkpoint in its
own folder. A channel's processor that raises is recorded for that channel
only: the others' outputs of the chunk are kept.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from coffea.processor import ProcessorABC
from coffea.processor.executor import WorkItem

from belleflow.processor import ChannelProcessor

__all__ = [
    "CHANNELS_KEY",
    "ChannelChunk",
    "OnePassProcessor",
    "merge_work_items",
    "without_channels",
]

#: ``usermeta`` key of a work item (and ``events.metadata`` key of its chunk):
#: the channels that process the chunk.
CHANNELS_KEY = "channels"


@dataclass(frozen=True)
class ChannelChunk:
    """One channel's result for one chunk: its output, or the error it raised.

    Attributes:
        output: The processor's output (None if it raised).
        seconds: Time the channel's processor took on the chunk.
        error: What it raised (None if it succeeded).
    """

    output: Any
    seconds: float
    error: Exception | None = None


class OnePassProcessor(ProcessorABC):  # type: ignore[misc]
    """A coffea processor that runs several channels' processors on each chunk.

    Args:
        processors: The channels' processors, by channel name.

    Each chunk's ``events.metadata[CHANNELS_KEY]`` says which channels
    process it; each gets its own shallow copy of the events (a field one
    channel adds is not seen by another; the read buffers are shared).

    Examples:
        >>> OnePassProcessor({}).postprocess({"channels": {}})
        {'channels': {}}
    """

    def __init__(self, processors: Mapping[str, ChannelProcessor]) -> None:
        self.processors = dict(processors)

    def process(self, events: Any) -> dict[str, Any]:
        """``{"channels": {name: ChannelChunk}}`` for the chunk's channels."""
        out: dict[str, ChannelChunk] = {}
        for name in events.metadata[CHANNELS_KEY]:
            tic = time.perf_counter()
            try:
                result = self.processors[name].process(copy.copy(events))
            except Exception as err:  # noqa: BLE001 - one channel's failure is that channel's only
                out[name] = ChannelChunk(None, time.perf_counter() - tic, err)
            else:
                out[name] = ChannelChunk(result, time.perf_counter() - tic)
        return {"channels": out}

    def postprocess(self, accumulator: Any) -> Any:
        """Nothing to do: the engine finalises each channel's output."""
        return accumulator


def merge_work_items(work_items: Mapping[str, Iterable[WorkItem]]) -> list[WorkItem]:
    """One work item per chunk, naming the channels (in the given order) that want it.

    Args:
        work_items: Each channel's planned chunks, by channel name.

    Returns:
        The union of the chunks, in first-planned order, each with
        ``usermeta[CHANNELS_KEY]`` listing its channels.

    Raises:
        ValueError: Two channels plan the same chunk with different sample
            metadata (they read different catalogues).

    Examples:
        >>> a = WorkItem("s", "f.root", "events", 0, 10, b"", {"kind": "data"})
        >>> b = WorkItem("s", "f.root", "events", 10, 20, b"", {"kind": "data"})
        >>> [(w.entrystart, w.usermeta["channels"]) for w in merge_work_items({"x": [a, b], "y": [a]})]
        [(0, ['x', 'y']), (10, ['x'])]
    """
    merged: dict[tuple[str, str, int, int], WorkItem] = {}
    for channel, items in work_items.items():
        for item in items:
            key = (item.dataset, item.filename, item.entrystart, item.entrystop)
            known = merged.get(key)
            if known is None:
                meta = {**(item.usermeta or {}), CHANNELS_KEY: [channel]}
                merged[key] = replace(item, usermeta=meta)
                continue
            if without_channels(known).usermeta != (item.usermeta or {}):
                msg = f"chunk {key}: channels plan it with different sample metadata"
                raise ValueError(msg)
            known.usermeta[CHANNELS_KEY].append(channel)
    return list(merged.values())


def without_channels(item: WorkItem) -> WorkItem:
    """The work item as a single-channel run plans it (no :data:`CHANNELS_KEY`)."""
    meta = {k: v for k, v in (item.usermeta or {}).items() if k != CHANNELS_KEY}
    return replace(item, usermeta=meta)
