"""The pieces of a channel declaration (see :class:`belleflow.processor.Channel`).

* :class:`EventView`: what a channel's selection reads: the chunk's
  collections (``ev.Track``, ``ev.Photon``, ``ev.beam``...), restricted to
  the preselected events and, under a shift, with one collection shifted;
  ``ev.cm_frame`` for CM quantities.
* :class:`Result`: what the selection returns: per-event and per-candidate
  columns (observables, classifier features, objects for the weights).
* :class:`Histogram`: a histogram to fill from the columns.
* :class:`ClassifierStep`: the classifier cut (features, shipped model,
  training declaration, working point in the model).
* :func:`resolution_edges` / :func:`resolution_axis`: bins a fraction of the
  resolution wide.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import awkward as ak
import hist
import numpy as np

from belleflow.selection import cm_frame
from belleflow.training.trainer import TrainingSpec

__all__ = [
    "ClassifierStep",
    "EventView",
    "Histogram",
    "Result",
    "StackBlock",
    "resolution_axis",
    "resolution_edges",
]


def resolution_edges(
    resolution: Callable[[float], float], low: float, high: float, per_sigma: float = 3.0
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Bin edges from ``low`` to (at least) ``high``, each bin ``resolution(m) / per_sigma`` wide.

    Args:
        resolution: sigma(m) in GeV (e.g. a :class:`belleflow.limits.model.Resolution`).
        low: First edge.
        high: The last edge is the first one at or above it.
        per_sigma: Bins per resolution.

    Example:
        >>> resolution_edges(lambda m: 0.3, 1.0, 1.2).round(2).tolist()
        [1.0, 1.1, 1.2]
    """
    edges = [low]
    while edges[-1] < high:
        edges.append(edges[-1] + float(resolution(edges[-1])) / per_sigma)
    return np.asarray(edges)


def resolution_axis(
    name: str,
    resolution: Callable[[float], float],
    low: float,
    high: float,
    *,
    per_sigma: float = 3.0,
    label: str = "",
) -> hist.axis.Variable:
    """A variable-width observable axis of :func:`resolution_edges`."""
    edges = resolution_edges(resolution, low, high, per_sigma)
    return hist.axis.Variable(edges, name=name, label=label or name)


@dataclass(frozen=True)
class Histogram:
    """A histogram the framework fills from the selection's columns.

    Attributes:
        name: Histogram name.
        axes: Observable axes (each named).
        columns: Axis name -> column of :class:`Result` (default: the axis name).
        varied: Fill the systematic variations too (False: nominal only).
    """

    name: str
    axes: tuple[hist.axis.AxesMixin, ...]
    columns: Mapping[str, str] = field(default_factory=dict)
    varied: bool = True

    @property
    def axis_names(self) -> tuple[str, ...]:
        """The names of the observable axes."""
        return tuple(str(cast(Any, axis).name) for axis in self.axes)

    def column(self, axis: str) -> str:
        """The column filled into ``axis``."""
        return self.columns.get(axis, axis)


@dataclass
class Result:
    """What a channel's selection returns for the events it was given.

    Attributes:
        events: Per-event columns (flat, or jagged lists filled as they are).
        candidates: Per-candidate columns (jagged like the candidate cuts):
            the framework keeps the candidates that pass every candidate cut
            and the classifier.
        at: The events the columns are given for, as a mask over all events
            (e.g. ``cuts.event`` when they are only computed for the events
            that passed); None: all events.
    """

    events: dict[str, Any] = field(default_factory=dict)
    candidates: dict[str, Any] = field(default_factory=dict)
    at: Any = None


@dataclass(frozen=True)
class ClassifierStep:
    """The classifier cut of a channel, applied by the framework after its selection.

    The candidates that pass every candidate cut are evaluated; those with
    ``score >= threshold`` (the working point stored with the model) pass,
    and an event passes step ``step`` while one of its candidates does.

    Attributes:
        model: The shipped model (``belleflow train CHANNEL`` writes it).
        features: Input names: per-candidate columns, in the model's order.
        training: What ``belleflow train`` trains on.
        truth: ``result -> per-candidate bool`` (jagged, or flat over the
            candidates): the candidate is the generated signal (MC truth; for
            training).
        mass: Candidate column of the search observable (for training).
        step: Cutflow name of the classifier cut.
    """

    model: Path
    features: tuple[str, ...]
    training: TrainingSpec
    truth: Callable[[Result], Any]
    mass: str
    step: str = "classifier"


#: One block of a stacked view: collection -> ``(apply, factor)`` of its shift (empty: nominal).
StackBlock = Mapping[str, tuple[Callable[[Any, float], Any], float]]


class EventView:
    """The events a selection pass reads: a chunk, its preselected events, maybe shifted.

    Attribute access (``ev.Track``, ``ev.beam``, ...) gives the chunk's
    collection at the preselected positions ``index``, or its shifted copy.
    A *stacked* view (:meth:`stack`) holds several copies of the same events
    one after the other, each with its own shifted collections, so that one
    selection pass evaluates the nominal selection and every shift at once.

    Args:
        events: The chunk's NanoEvents.
        index: Chunk positions of the events (None: all of them).
        shifted: Collection name -> replacement (already at ``index``).
    """

    def __init__(
        self,
        events: Any,
        index: np.ndarray[Any, np.dtype[np.int64]] | None = None,
        shifted: Mapping[str, Any] | None = None,
    ) -> None:
        self._events = events
        self._index = index
        self._cache: dict[str, Any] = dict(shifted or {})
        self._blocks: tuple[StackBlock, ...] = ({},)
        self._base: EventView = self

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        cache = self._cache
        if name not in cache:
            if self._base is not self:
                cache[name] = self._stacked(name)
            else:
                collection = getattr(self._events, name)
                cache[name] = collection if self._index is None else collection[self._index]
        return cache[name]

    def _stacked(self, name: str) -> Any:
        nominal = getattr(self._base, name)
        if all(name not in block for block in self._blocks):
            return _repeat(nominal, len(self._blocks))
        copies = []
        for block in self._blocks:
            apply, factor = block.get(name, (None, 1.0))
            copies.append(nominal if apply is None else apply(nominal, factor))
        return ak.concatenate(copies)

    def __len__(self) -> int:
        n = len(self._events) if self._index is None else len(self._index)
        return n * len(self._blocks)

    @property
    def blocks(self) -> int:
        """How many copies of the events the view holds (1 unless :meth:`stack`)."""
        return len(self._blocks)

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The chunk's ``events.metadata``."""
        return dict(self._events.metadata)

    @property
    def fields(self) -> list[str]:
        """The chunk's collections."""
        return list(self._events.fields)

    @property
    def cm_frame(self) -> tuple[Any, Any]:
        """``(beam, her_direction)`` of :func:`belleflow.selection.cm_frame` for these events."""
        if "__cm_frame" not in self._cache:
            if self._base is not self:
                beam, machine = self._base.cm_frame
                beam = _repeat(beam, len(self._blocks))
            else:
                beam, machine = cm_frame(self._events)
                beam = beam if self._index is None else beam[self._index]
            self._cache["__cm_frame"] = (beam, machine)
        frame: tuple[Any, Any] = self._cache["__cm_frame"]
        return frame

    def subset(self, index: np.ndarray[Any, np.dtype[np.int64]]) -> EventView:
        """The view of the chunk's events at ``index`` (chunk positions)."""
        return EventView(self._events, index)

    def shift(
        self, collection: str, apply: Callable[[Any, float], Any], factor: float
    ) -> EventView:
        """The same events with ``collection`` replaced by ``apply(collection, factor)``."""
        shifted = apply(getattr(self, collection), factor)
        # Everything else (other collections, the CM frame) is shared with this view.
        return EventView(self._events, self._index, {**self._cache, collection: shifted})

    def stack(self, blocks: Sequence[StackBlock]) -> EventView:
        """These events once per block, one after the other, each block with its shifts applied.

        Event ``i`` of block ``k`` is event ``k * len(self) + i`` of the
        stacked view. Selections are per event, so a pass over the stacked
        view gives, block by block, what separate passes would, while every
        array call is made once instead of once per block.

        Args:
            blocks: Per block, the shifted collections: name -> ``(apply, factor)``.
        """
        if self._base is not self:
            msg = "EventView.stack: this view is already stacked"
            raise ValueError(msg)
        view = EventView(self._events, self._index)
        view._blocks = tuple(blocks)
        view._base = self
        return view


def _repeat(values: Any, times: int) -> Any:
    """``values`` (awkward or a NumPy ``vector`` array) ``times`` times one after the other."""
    if times == 1:
        return values
    return values[np.tile(np.arange(len(values)), times)]
