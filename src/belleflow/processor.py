"""The channel contract: what a dark-sector channel gives the run engine.

Following coffea, a channel's processor is a stateless bundle: for each chunk
of events it returns plain dictionaries whose leaves are ``hist.Hist``,
NumPy arrays and numbers, so that the outputs of all chunks merge by
addition (``coffea.processor.accumulate``). A channel is a declaration, a
:class:`Channel` (``docs/writing-a-channel.md``); :class:`DeclaredProcessor`
turns it into the processor: preselection, selection steps as the cutflow,
classifier, fills, weight variations, shifts (simulation only) and blinding.
A hand-written :class:`ChannelProcessor` subclass (``processor_class=``)
remains possible for tools and tests.

The output of :meth:`ChannelProcessor.process` for a chunk (and merged
over chunks) is *raw*::

    {
        "histograms": {name: Hist(dataset, variation, *observables)},
        "cutflow": {sample: {cut: np.array([raw, sum of __weight__])}},
        "accounting": {
            "files": {filename: events seen},
            "chunks": {"filename|start|stop": events seen},
            "samples": {sample: events seen},
        },
    }

Histograms are filled per sample (the ``dataset`` axis; hist reserves the
name ``sample``) with ``__weight__`` (times any extra
weight the channel gives) and the catalogue normalisation is applied once,
after merging, by :func:`finalise_output`: the ``dataset`` axis becomes the
:mod:`belleflow.naming` ``process`` axis, values are multiplied by the
sample weight and variances by its square. The result is the same quantity
as filling with ``weight * __weight__``, but with unit generator weights
every bin is a sum of integers until the final scaling, so the histograms
are bit-for-bit identical whatever the executor, the chunk size and the
order in which chunks are merged. The cutflow values are length-2 float64
arrays and not lists because ``accumulate`` concatenates lists but adds
arrays; :func:`finalise_output` turns them into ``[raw, weighted]`` lists.

Per chunk the engine puts the sample description into ``events.metadata``
(:data:`SAMPLE_METADATA_KEYS`): ``dataset`` (sample name), ``kind``,
``process`` (the :mod:`belleflow.naming` label: ``"data"``, the process name,
or the signal label), ``weight`` (the catalogue's per-event normalisation),
``experiment``, ``machine`` and ``unblind``.

Examples:
    >>> import awkward as ak
    >>> import hist
    >>> class Dimuon(ChannelProcessor):
    ...     histograms = {"m_mumu": (hist.axis.Regular(60, 0.0, 12.0, name="m_mumu"),)}
    ...     signal_windows = {"m_mumu": ((3.0, 3.2),)}
    ...
    ...     def process_chunk(self, events, chunk):
    ...         muons = events.Track[events.Track.muonID > 0.5]
    ...         two = chunk.cut("two_muons", ak.num(muons) >= 2)
    ...         pair = muons[two][:, 0] + muons[two][:, 1]
    ...         chunk.fill("m_mumu", mask=two, m_mumu=pair.mass)
"""

from __future__ import annotations

import abc
import hashlib
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import awkward as ak
import hist
import numpy as np
from coffea.processor import ProcessorABC

from belleflow.cuts import Cuts, event_mask
from belleflow.limits.model import StatModel
from belleflow.limits.model import Systematic as ModelSystematic
from belleflow.limits.workspace import windows_span
from belleflow.naming import NOMINAL
from belleflow.selection import scatter
from belleflow.spec import ClassifierStep, EventView, Histogram, Result, StackBlock
from belleflow.systematics import Shift, Systematic, WeightVariation
from belleflow.training.evaluate import shipped_classifier

__all__ = [
    "SAMPLE_METADATA_KEYS",
    "Channel",
    "ChannelProcessor",
    "ChunkContext",
    "Cutflow",
    "DeclaredProcessor",
    "book_histogram",
    "chunk_key",
    "finalise_histogram",
    "finalise_output",
    "flat_values",
    "nominal_twins",
]

#: Keys the engine adds to ``events.metadata`` for every chunk.
SAMPLE_METADATA_KEYS = ("kind", "process", "weight", "experiment", "machine", "unblind")

#: A window ``(low, high)`` of an observable, half-open ``[low, high)``.
Window = tuple[float, float]


def chunk_key(filename: str, start: int, stop: int) -> str:
    """The accounting key of one chunk: ``"filename|start|stop"``."""
    return f"{filename}|{start}|{stop}"


def book_histogram(
    axes: Sequence[hist.axis.AxesMixin], *, label: str = "", first: str = "process"
) -> hist.Hist[Any]:
    """An empty histogram with two category axes in front of the observables.

    Args:
        axes: The observable axes (each with a ``name``).
        label: Label of the histogram (for plots).
        first: Name of the first category axis: ``process`` for final
            histograms, ``dataset`` (sample names) for the raw ones a processor fills.

    Returns:
        A ``hist.Hist`` with Weight storage (sum of weights and of squared
        weights), axes ``(first, "variation", *axes)``.
    """
    all_axes: list[Any] = [
        hist.axis.StrCategory([], growth=True, name=first, label=first),
        hist.axis.StrCategory([], growth=True, name="variation", label="variation"),
        *axes,
    ]
    booked: hist.Hist[Any] = hist.Hist(
        *all_axes, storage=hist.storage.Weight(), label=label or None
    )
    return booked


def flat_values(
    values: Mapping[str, Any], weights: Any
) -> tuple[dict[str, np.ndarray[Any, Any]], np.ndarray[Any, Any]]:
    """Values (per event or jagged) and their weights broadcast together and flattened.

    Returns:
        ``(columns, weights)``: one flat array per value name and the float64
        weights, one entry per filled value.
    """
    arrays = list(ak.broadcast_arrays(ak.Array(weights), *map(ak.Array, values.values())))
    # Keep the values' dtypes: integer axes reject floats.
    flat = [ak.to_numpy(ak.flatten(a, axis=None)) for a in arrays]
    return dict(zip(values, flat[1:], strict=True)), flat[0].astype(np.float64)


class Cutflow:
    """Raw and weighted event counts after each cut, for one sample and chunk.

    Cuts are cumulative: :meth:`cut` ANDs its mask with the previous
    selection, so counts never rise along the cutflow.

    Args:
        weights: Per-event weights of the chunk (sample weight times ``__weight__``).
        initial: Name of the first entry (all events of the chunk).
    """

    def __init__(self, weights: np.ndarray[Any, Any], *, initial: str = "all") -> None:
        self._weights = np.asarray(weights, dtype=np.float64)
        self.selection = np.ones(len(self._weights), dtype=bool)
        self.counts: dict[str, np.ndarray[Any, Any]] = {}
        self._record(initial)

    def _record(self, name: str) -> None:
        if name in self.counts:
            msg = f"cut {name!r} is recorded twice in the cutflow"
            raise ValueError(msg)
        raw = float(np.count_nonzero(self.selection))
        weighted = float(self._weights[self.selection].sum())
        self.counts[name] = np.array([raw, weighted], dtype=np.float64)

    def cut(self, name: str, mask: Any) -> np.ndarray[Any, Any]:
        """Apply a cut after the previous ones and record the counts.

        Args:
            name: Cut name (unique in the cutflow).
            mask: Per-event boolean mask over the chunk (None counts as False).

        Returns:
            The cumulative per-event selection (a NumPy boolean array).
        """
        array = ak.to_numpy(ak.fill_none(mask, False)).astype(bool)
        if array.shape != self.selection.shape:
            msg = f"cut {name!r}: mask has shape {array.shape}, expected {self.selection.shape}"
            raise ValueError(msg)
        self.selection = self.selection & array
        self._record(name)
        return self.selection


class ChunkContext:
    """What a channel's :meth:`ChannelProcessor.process_chunk` works with.

    Holds the sample description of the chunk, the per-event weights, the
    cutflow and the histograms; :meth:`output` is the chunk's mergeable output.

    Attributes:
        sample: Sample name (``events.metadata["dataset"]``).
        kind: ``data``, ``simulation`` or ``signal``.
        process: ``process`` axis label of the sample.
        sample_weight: Catalogue normalisation per event (applied after merging).
        experiment: ``Belle`` or ``Belle II``.
        machine: ``KEKB`` or ``SuperKEKB``.
        unblind: Whether data inside signal windows is filled.
        weights: Per-event generator weights ``__weight__`` (1 for data); the
            final histograms carry ``sample_weight * weights``.
        cutflow: The chunk's :class:`Cutflow`.
    """

    def __init__(self, processor: ChannelProcessor, events: Any) -> None:
        meta = dict(events.metadata)
        self._processor = processor
        self.sample: str = str(meta.get("dataset", "unknown"))
        self.kind: str = str(meta.get("kind", "simulation"))
        self.process: str = str(meta.get("process", self.sample))
        self.sample_weight: float = float(meta.get("weight", 1.0))
        self.experiment: str = str(meta.get("experiment", ""))
        self.machine: str = str(meta.get("machine", ""))
        self.unblind: bool = bool(meta.get("unblind", False))
        self.n_events = len(events)
        filename = str(meta.get("filename", ""))
        start = int(meta.get("entrystart", 0))
        stop = int(meta.get("entrystop", start + self.n_events))
        self._accounting = {
            "files": {filename: self.n_events},
            "chunks": {chunk_key(filename, start, stop): self.n_events},
            "samples": {self.sample: self.n_events},
        }
        if self.kind == "data":
            # Data carries no generator weight; do not even read the branch.
            self.weights = np.ones(self.n_events, dtype=np.float64)
        else:
            self.weights = ak.to_numpy(events["__weight__"]).astype(np.float64)
        self.cutflow = Cutflow(self.weights)
        self.histograms = {
            name: book_histogram(axes, label=name, first="dataset")
            for name, axes in processor.histogram_axes().items()
        }

    def cut(self, name: str, mask: Any) -> np.ndarray[Any, Any]:
        """Shortcut for ``self.cutflow.cut(name, mask)``."""
        return self.cutflow.cut(name, mask)

    @property
    def blinded(self) -> bool:
        """True when this chunk is data and the run is not unblinded."""
        return self.kind == "data" and not self.unblind

    def fill(
        self,
        name: str,
        *,
        mask: Any = None,
        variation: str = NOMINAL,
        weight: Any = None,
        **values: Any,
    ) -> None:
        """Fill a declared histogram for this chunk's sample.

        Args:
            name: Histogram name (a key of :attr:`ChannelProcessor.histograms`).
            mask: Per-event selection over the whole chunk; applied to ``values``
                and the weights when they have the chunk's length.
            variation: ``variation`` axis label.
            weight: Extra per-event (or per-value) factor, e.g. a systematic
                variation; multiplies ``__weight__`` (and, after merging, the
                sample weight).
            **values: One array per observable axis, per event or jagged
                (per candidate): chunk-long (``mask``, if given, selects), or
                already selected with ``mask`` or, without it, with the
                cutflow's current selection.
        """
        if name not in self.histograms:
            msg = f"histogram {name!r} is not declared (declared: {sorted(self.histograms)})"
            raise KeyError(msg)
        if self.kind == "data" and variation != NOMINAL:
            # Data is what was recorded: systematic variations exist for simulation only.
            return
        weights: Any = self.weights
        if mask is not None:
            selection = ak.to_numpy(ak.fill_none(mask, False)).astype(bool)
        else:
            # Values shorter than the chunk are taken to follow the cutflow's selection.
            length = len(next(iter(values.values()))) if values else self.n_events
            selection = None if length == self.n_events else self.cutflow.selection
            if selection is not None and int(selection.sum()) != length:
                msg = (
                    f"fill {name!r}: values have {length} entries, neither the chunk's "
                    f"{self.n_events} events nor the {int(selection.sum())} selected: pass mask="
                )
                raise ValueError(msg)
        if selection is not None:
            weights = weights[selection]
            values = {
                key: value[selection] if len(value) == self.n_events else value
                for key, value in values.items()
            }
            if weight is not None and len(weight) == self.n_events:
                weight = weight[selection]
        if weight is not None:
            # ak broadcasting covers both per-event and jagged extra weights.
            weights = ak.Array(weights) * weight
        columns, weights_flat = flat_values(values, weights)
        self.fill_flat(name, variation, columns, weights_flat)

    def fill_flat(
        self,
        name: str,
        variation: str,
        columns: Mapping[str, Any],
        weights: np.ndarray[Any, Any],
    ) -> None:
        """Fill flat arrays, one entry per value (see :meth:`fill`, which flattens for it).

        Args:
            name: Histogram name.
            variation: ``variation`` axis label (data fills the nominal only).
            columns: Axis name -> values.
            weights: Generator weight times any extra factor, per value.
        """
        if name not in self.histograms:
            msg = f"histogram {name!r} is not declared (declared: {sorted(self.histograms)})"
            raise KeyError(msg)
        if self.kind == "data" and variation != NOMINAL:
            return
        weights_flat = weights
        if self.blinded:
            if not set(columns) & set(self._processor.windows()):
                # A histogram with no blinded observable would count data events of the
                # signal region (every fill follows the selection): blinded whole.
                return
            keep = ~self._processor.in_signal_window(columns)
            weights_flat = weights_flat[keep]
            columns = {key: column[keep] for key, column in columns.items()}
        self.histograms[name].fill(
            dataset=self.sample, variation=variation, **columns, weight=weights_flat
        )

    def output(self) -> dict[str, Any]:
        """The chunk's mergeable output (see the module docstring)."""
        return {
            "histograms": self.histograms,
            "cutflow": {self.sample: self.cutflow.counts},
            "accounting": self._accounting,
        }


class ChannelProcessor(ProcessorABC):  # type: ignore[misc]
    """Base class of belleflow channel processors (a coffea ``ProcessorABC``).

    Subclasses declare :attr:`histograms` (name -> observable axes) and,
    optionally, :attr:`signal_windows`, and implement :meth:`process_chunk`.
    They must stay stateless: everything a chunk produces goes through the
    :class:`ChunkContext`.

    Attributes:
        histograms: Histogram name -> observable axes (each axis named).
        signal_windows: Observable name -> windows ``(low, high)``; data values
            inside a window are not filled unless the run is unblinded.
    """

    histograms: ClassVar[Mapping[str, Sequence[hist.axis.AxesMixin]]] = {}
    signal_windows: ClassVar[Mapping[str, Sequence[Window]]] = {}

    @abc.abstractmethod
    def process_chunk(self, events: Any, chunk: ChunkContext) -> None:
        """Select events and fill histograms for one chunk (implemented by channels).

        Args:
            events: NanoEvents of the chunk (``Belle2Schema``).
            chunk: Sample information, cutflow, and ``fill``.
        """

    def histogram_axes(self) -> Mapping[str, Sequence[hist.axis.AxesMixin]]:
        """Histogram name -> observable axes (default :attr:`histograms`)."""
        return self.histograms

    def windows(self) -> Mapping[str, Sequence[Window]]:
        """Observable -> blinded windows (default :attr:`signal_windows`)."""
        return self.signal_windows

    def in_signal_window(self, columns: Mapping[str, np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
        """Which filled values fall inside a declared signal window.

        Channels whose windows depend on more than one observable override this.

        Args:
            columns: Flat arrays of the values being filled, by axis name.

        Returns:
            A boolean mask over the values.
        """
        n = len(next(iter(columns.values()))) if columns else 0
        inside = np.zeros(n, dtype=bool)
        for observable, windows in self.windows().items():
            if observable not in columns:
                continue
            column = columns[observable]
            for low, high in windows:
                inside |= (column >= low) & (column < high)
        return inside

    def process(self, events: Any) -> dict[str, Any]:
        """coffea entry point: builds the :class:`ChunkContext` and calls :meth:`process_chunk`."""
        chunk = ChunkContext(self, events)
        self.process_chunk(events, chunk)
        return chunk.output()

    def postprocess(self, accumulator: Any) -> Any:
        """Nothing to do here: the engine scales with :func:`finalise_output`."""
        return accumulator


class _Selected(Mapping[str, Any]):
    """A pass's columns at its selected events and candidates, masked on first use."""

    def __init__(self, channel: str, result: Result, cuts: Cuts) -> None:
        self._result = result
        if result.at is not None and np.any(cuts.event & ~result.at):
            msg = f"channel {channel!r}: Result.at excludes events that pass every cut"
            raise ValueError(msg)
        self._event = cuts.event if result.at is None else cuts.event[result.at]
        candidates = cuts.selected_candidates()
        self._candidates = None if candidates is None else candidates[cuts.event]
        self._cache: dict[str, Any] = {}
        self.n = int(np.count_nonzero(self._event))

    def __getitem__(self, name: str) -> Any:
        if name not in self._cache:
            result = self._result
            if name in result.candidates:
                values = result.candidates[name][self._event]
                if self._candidates is not None:
                    values = values[self._candidates]
            elif name in result.events:
                values = result.events[name][self._event]
            else:
                known = sorted({*result.events, *result.candidates})
                msg = f"the selection returns no column {name!r} (columns: {known})"
                raise KeyError(msg)
            self._cache[name] = values
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**self._result.events, **self._result.candidates})

    def __len__(self) -> int:
        return len({**self._result.events, **self._result.candidates})


def _flat(values: Any) -> np.ndarray[Any, Any]:
    """A per-candidate column (jagged, or a regular NumPy array) as one flat array."""
    if isinstance(values, np.ndarray):
        return values.reshape(-1)
    return np.asarray(ak.to_numpy(ak.flatten(values, axis=None)))


def _block(cuts: Cuts, result: Result | None, start: int, stop: int) -> tuple[Cuts, Result | None]:
    """The cuts and columns of the events ``start`` to ``stop`` of a stacked pass."""
    part = cuts.block(start, stop)
    if result is None:
        return part, None
    if result.at is None:
        rows, at = slice(start, stop), None
    else:
        # Columns are given at the events of ``at`` only: count them to find the block's rows.
        first = int(np.count_nonzero(result.at[:start]))
        at = result.at[start:stop]
        rows = slice(first, first + int(np.count_nonzero(at)))
    return part, Result(
        events={name: values[rows] for name, values in result.events.items()},
        candidates={name: values[rows] for name, values in result.candidates.items()},
        at=at,
    )


def nominal_twins(
    x: np.ndarray[Any, Any],
    counts: np.ndarray[Any, Any],
    events: np.ndarray[Any, Any],
    n: int,
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Per candidate row of a stacked pass: its identical row in the nominal block, else -1.

    Event ``i`` of block ``k`` is stacked event ``k * n + i``
    (:meth:`EventView.stack`). A row of block ``k > 0`` has a twin when the
    same event has the same number of candidates in the nominal block and
    the candidate at the same position has exactly the same features (NaN
    never equals: such rows get no twin).

    Args:
        x: Features, one row per candidate of the events, flattened in order.
        counts: Candidates per event.
        events: Stacked position of each event, ascending.
        n: Events per block.

    Returns:
        Row index of the twin in ``x``, or -1.

    Examples:
        >>> x = np.array([[1.0], [2.0], [1.0], [5.0], [7.0]])
        >>> nominal_twins(x, np.array([2, 2, 1]), np.array([0, 2, 3]), 2)
        array([-1, -1,  0, -1, -1])
    """
    starts = np.cumsum(counts) - counts
    nominal = events < n
    position = np.full(n, -1, dtype=np.int64)
    position[events[nominal]] = np.flatnonzero(nominal)
    twin_event = position[events % n]
    has_twin = ~nominal & (twin_event >= 0)
    has_twin[has_twin] = counts[twin_event[has_twin]] == counts[has_twin]
    row_event = np.repeat(np.arange(len(counts)), counts)
    rows = np.flatnonzero(has_twin[row_event])
    twin_rows = starts[twin_event[row_event[rows]]] + (rows - starts[row_event[rows]])
    same = np.all(x[rows] == x[twin_rows], axis=1)
    twin = np.full(len(x), -1, dtype=np.int64)
    twin[rows[same]] = twin_rows[same]
    return twin


def _candidates_at(channel: str, cuts: Cuts, result: Result) -> Any:
    """The selected candidates of the events the result's columns are given for."""
    candidates = cuts.selected_candidates()
    if candidates is None:
        msg = f"channel {channel!r}: the classifier needs candidate cuts"
        raise ValueError(msg)
    return candidates if result.at is None else candidates[result.at]


class DeclaredProcessor(ChannelProcessor):
    """The processor of a declared :class:`Channel`: the framework's side of a channel.

    Per chunk: the preselection on every event, the selection and the
    classifier on the preselected ones (the cutflow records every step),
    nominal and weight-varied fills of the events and candidates that pass
    them all; for simulation, the selection again under each shift.

    Args:
        channel: The declaration.
        classify: Apply the classifier (False: the selection without it, for training).
    """

    def __init__(self, channel: Channel, *, classify: bool = True) -> None:
        if channel.select is None:
            msg = f"channel {channel.name!r} declares no select"
            raise ValueError(msg)
        self.channel = channel
        self.classify = classify

    def histogram_axes(self) -> Mapping[str, Sequence[hist.axis.AxesMixin]]:
        """The declared histograms."""
        return {h.name: h.axes for h in self.channel.histograms}

    def windows(self) -> Mapping[str, Sequence[Window]]:
        """The blinded windows: declared, and every statistical model's (:class:`Channel`)."""
        return {k: v for k, v in self.channel.blind.items() if not isinstance(v, StatModel)}

    def preselected(self, events: Any) -> tuple[Cuts, np.ndarray[Any, Any], EventView]:
        """The preselection's cuts, the positions of the events passing it and their view."""
        view = EventView(events)
        cuts = Cuts(len(events))
        if self.channel.preselect is not None:
            self.channel.preselect(view, cuts)
        index = np.flatnonzero(cuts.event)
        return cuts, index, view.subset(index)

    def select(self, view: EventView) -> tuple[Cuts, Result | None]:
        """One selection pass (and the classifier) over ``view``; no result: nothing to fill."""
        assert self.channel.select is not None  # checked in __init__
        cuts = Cuts(len(view))
        result = self.channel.select(view, cuts)
        step = self.channel.classifier
        if step is not None and self.classify:
            if result is None:
                cuts.require(step.step, np.zeros(len(view), dtype=bool))
            else:
                passed = self._classifier_cut(step, cuts, result, view.blocks)
                cuts.require(step.step, passed, at=result.at)
        return cuts, result

    def _classifier_cut(
        self, step: ClassifierStep, cuts: Cuts, result: Result, blocks: int = 1
    ) -> Any:
        """Per candidate: passes every candidate cut and scores above the working point.

        In a stacked pass of ``blocks`` copies of the events, a candidate whose
        features equal those of the same candidate in the nominal block (a
        shift that does not touch them, e.g. the photon energy scale for track
        features) takes the nominal score instead of being evaluated again.
        """
        model = shipped_classifier(step.model, self.channel.name)
        candidates = _candidates_at(self.channel.name, cuts, result)
        counts = np.asarray(ak.to_numpy(ak.num(candidates, axis=1)), dtype=np.int64)
        selected = event_mask(ak.flatten(candidates))
        passed = np.zeros(len(selected), dtype=bool)
        if selected.any():
            x = np.stack([_flat(result.candidates[f]) for f in model.features], axis=1)
            # Only the candidates that can still pass and have no evaluated twin are evaluated.
            twin = np.full(len(selected), -1, dtype=np.int64)
            if blocks > 1:
                n = len(cuts.event)
                at = np.arange(n) if result.at is None else np.flatnonzero(event_mask(result.at))
                twin = nominal_twins(x, counts, at, n // blocks)
            reuse = selected & (twin >= 0)
            reuse[reuse] = selected[twin[reuse]]
            evaluate = selected & ~reuse
            if evaluate.any():
                scores = model.predict(np.asarray(x[evaluate], dtype=np.float64))
                passed[evaluate] = scores >= model.threshold
            passed[reuse] = passed[twin[reuse]]
        return ak.unflatten(passed, counts)

    def process_chunk(self, events: Any, chunk: ChunkContext) -> None:
        """Preselect, select, classify, fill; weight variations and shifts for simulation.

        For simulation the nominal selection and every shift run as one pass
        over a stacked view (:meth:`EventView.stack`): each array operation
        of the selection and the classifier is called once per chunk, not
        once per shift; the blocks are then filled as separate variations.
        """
        pre, index, view = self.preselected(events)
        for name, mask in pre.steps.items():
            chunk.cut(name, mask)
        simulated = chunk.kind != "data"
        variations: list[tuple[str, StackBlock]] = [(NOMINAL, {})]
        if simulated:
            # Data is what was recorded: no variation, no shifted selection.
            variations += [
                (variation, {shift.collection: (shift.apply, factor)})
                for shift in self.channel.shifts
                for variation, factor in shift.variations()
            ]
        stacked = view.stack([block for _, block in variations])
        cuts, result = self.select(stacked)
        n = len(index)
        for k, (variation, _) in enumerate(variations):
            part_cuts, part = _block(cuts, result, k * n, (k + 1) * n)
            if k == 0:
                for name, mask in part_cuts.steps.items():
                    chunk.cut(name, scatter(mask, index, chunk.n_events))
            self._fill(chunk, index, part_cuts, part, variation, vary=simulated and k == 0)

    def _fill(
        self,
        chunk: ChunkContext,
        index: np.ndarray[Any, Any],
        cuts: Cuts,
        result: Result | None,
        variation: str,
        *,
        vary: bool = False,
    ) -> None:
        if result is None:
            return
        mask = scatter(cuts.event, index, chunk.n_events)
        columns = _Selected(self.channel.name, result, cuts)
        histograms = self.channel.histograms
        if variation != NOMINAL:
            histograms = tuple(h for h in histograms if h.varied)
        weights = chunk.weights[mask]
        values = {h.name: {a: columns[h.column(a)] for a in h.axis_names} for h in histograms}
        # Broadcast and flatten each histogram's values once; the weight
        # variations only multiply the weights.
        filled = {h.name: flat_values(values[h.name], weights) for h in histograms}
        for h in histograms:
            chunk.fill_flat(h.name, variation, *filled[h.name])
        if not vary:
            return
        varied = [h for h in histograms if h.varied]
        for systematic in self.channel.weight_variations:
            for name, factor in systematic.weights(columns, columns.n).items():
                for h in varied:
                    flat, base = filled[h.name]
                    arrays = map(ak.Array, values[h.name].values())
                    per_value = ak.flatten(
                        ak.broadcast_arrays(ak.Array(factor), *arrays)[0], axis=None
                    )
                    chunk.fill_flat(
                        h.name, name, flat, base * ak.to_numpy(per_value).astype(np.float64)
                    )

    def training_candidates(
        self, events: Any
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Classifier inputs of the selected candidates, for ``belleflow train``.

        Returns:
            ``(X, mass, truth)``: features (candidates x features), the
            candidates' search observable and whether they are the generated
            signal (MC truth; False without it).
        """
        step = self.channel.classifier
        if step is None:
            msg = f"channel {self.channel.name!r} declares no classifier"
            raise ValueError(msg)
        _, index, view = self.preselected(events)
        cuts, result = DeclaredProcessor(self.channel, classify=False).select(view)
        if result is None:
            return np.zeros((0, len(step.features))), np.zeros(0), np.zeros(0, dtype=bool)
        candidates = _candidates_at(self.channel.name, cuts, result)
        selected = event_mask(ak.flatten(candidates))
        x = np.stack([_flat(result.candidates[f]) for f in step.features], axis=1)
        mass = _flat(result.candidates[step.mass])
        truth = np.zeros(len(selected), dtype=bool)
        if len(index) and "MCParticle" in events.fields:
            truth = event_mask(_flat(step.truth(result)))
        return np.asarray(x[selected], dtype=np.float64), mass[selected], truth[selected]


#: A channel's preselection: cheap cuts that no systematic shift changes.
Preselection = Callable[[EventView, Cuts], None]
#: A channel's selection: the remaining cuts and the columns to fill (None:
#: no event left, nothing to fill).
SelectionFunction = Callable[[EventView, Cuts], Result | None]


@dataclass(frozen=True)
class Channel:
    """The declaration of a dark-sector channel: everything a run and the limits need.

    A channel declares what the paper does; the framework
    (:class:`DeclaredProcessor`) does the rest: it runs ``preselect`` once
    per chunk and ``select`` on the preselected events, records each
    :meth:`Cuts.require <belleflow.cuts.Cuts.require>` as a cutflow step,
    applies the classifier, fills ``histograms`` with the events and
    candidates that pass every step, fills the weight variations, evaluates
    ``select`` under each shift (never for data), and blinds data wherever a
    statistical model's scan counts them. ``docs/writing-a-channel.md`` walks
    through one.

    Attributes:
        name: Channel name (as registered in the ``belleflow.channels`` entry points).
        description: One line for ``belleflow channels``.
        skim: Catalogue skim whose samples the channel reads.
        experiments: Experiments whose samples it runs on (``"Belle"``, ``"Belle II"``).
        processor_class: A hand-written :class:`ChannelProcessor` subclass
            instead of ``select`` (default: :class:`DeclaredProcessor`).
        options: Keyword arguments for ``processor_class`` (part of the run's
            configuration hash; for a declared channel, the hash of its module).
        preselect: The cuts that no shift changes (run once per chunk, on
            every event); None: none.
        select: The rest of the selection, on the preselected events; returns
            the columns to fill.
        histograms: The histograms filled from the columns.
        systematics: Weight variations and shifts (simulation only). The
            statistical models list them (do not repeat them there).
        classifier: The classifier cut, after ``select`` (None: no classifier).
        blind: Observable -> windows ``(low, high)``, or a statistical model
            whose scan windows cover it: data values inside are not filled
            unless the run is unblinded. Every histogram axis that is a
            statistical model's observable is blinded wherever the model's
            windows count (they reach beyond its search range) without being
            declared here; after ``__post_init__`` this holds every window.
        statistical_model: One :class:`~belleflow.limits.model.StatModel` or
            a mapping of them; their ``systematics`` are set from ``systematics``.
        signal_region_cut: The cut of the cutflow that defines the signal
            region (``None``: the last cut). While a run is blinded, the data
            cutflow stops at the cut before it, so that no output counts data
            events in the signal region.
    """

    name: str
    description: str
    skim: str
    experiments: tuple[str, ...]
    # The hand-written form's fields first: Channel(name, description, skim, experiments, cls).
    processor_class: type[ChannelProcessor] = DeclaredProcessor
    options: Mapping[str, Any] = field(default_factory=dict)
    statistical_model: Any | None = None
    signal_region_cut: str | None = None
    preselect: Preselection | None = None
    select: SelectionFunction | None = None
    histograms: tuple[Histogram, ...] = ()
    systematics: tuple[Systematic, ...] = ()
    classifier: ClassifierStep | None = None
    blind: Mapping[str, Sequence[Window] | StatModel] = field(default_factory=dict)

    def __post_init__(self) -> None:
        declared = self.processor_class is DeclaredProcessor
        if (self.select is None) == declared:
            msg = f"channel {self.name!r} declares either select or processor_class, not both"
            raise ValueError(msg)
        if self.select is None:
            return
        # The engine hashes processor_class's source and options into the run's
        # configuration: the declaration's module stands for the channel.
        object.__setattr__(self, "options", {"declaration": _module_hash(self.select)})
        object.__setattr__(self, "statistical_model", self._with_systematics())
        object.__setattr__(self, "blind", self._blinded())

    def _blinded(self) -> dict[str, tuple[Window, ...]]:
        """The declared windows, and the span of every scan's windows on its observable's axes."""
        out: dict[str, list[Window]] = {}

        every_axis: list[Any] = [a for h in self.histograms for a in h.axes]

        def scan(observable: str, model: StatModel) -> None:
            axes = [a for a in every_axis if a.name == observable]
            if not axes:
                msg = f"channel {self.name!r}: blinds {observable!r}, which no histogram fills"
                raise ValueError(msg)
            for axis in axes:
                span = windows_span(model, np.asarray(axis.edges, dtype=np.float64))
                out.setdefault(observable, []).append(span)

        for observable, windows in self.blind.items():
            if isinstance(windows, StatModel):
                scan(observable, windows)
            else:
                out.setdefault(observable, []).extend((lo, hi) for lo, hi in windows)
        models = self.statistical_model
        for model in models.values() if isinstance(models, Mapping) else [models]:
            if isinstance(model, StatModel) and any(a.name == model.observable for a in every_axis):
                scan(model.observable, model)
        return {observable: tuple(windows) for observable, windows in out.items()}

    def make_processor(self) -> ChannelProcessor:
        """A fresh processor instance for one run."""
        if self.select is not None:
            return DeclaredProcessor(self)
        return self.processor_class(**self.options)

    @property
    def weight_variations(self) -> tuple[WeightVariation, ...]:
        """The declared weight variations."""
        return tuple(s for s in self.systematics if isinstance(s, WeightVariation))

    @property
    def shifts(self) -> tuple[Shift, ...]:
        """The declared shifts."""
        return tuple(s for s in self.systematics if isinstance(s, Shift))

    def _with_systematics(self) -> Any:
        declared = [ModelSystematic(name=s.name) for s in self.systematics]

        def complete(model: Any) -> Any:
            if not isinstance(model, StatModel):
                return model
            if model.systematics and list(model.systematics) != declared:
                msg = (
                    f"channel {self.name!r}: statistical model {model.signal_model!r} lists "
                    "other systematics than Channel.systematics (leave them out)"
                )
                raise ValueError(msg)
            return model.model_copy(update={"systematics": declared})

        if isinstance(self.statistical_model, Mapping):
            return {key: complete(m) for key, m in self.statistical_model.items()}
        return complete(self.statistical_model)


def _module_hash(function: Callable[..., Any]) -> str:
    module = sys.modules.get(function.__module__)
    try:
        source = inspect.getsource(module) if module is not None else function.__qualname__
    except (OSError, TypeError):
        source = f"{function.__module__}.{function.__qualname__}"
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def finalise_histogram(
    raw: hist.Hist[Any], processes: Mapping[str, str], weights: Mapping[str, float]
) -> hist.Hist[Any]:
    """Turn a raw ``(dataset, variation, ...)`` histogram into ``(process, variation, ...)``.

    Each sample's slice is multiplied by its weight (variances by its square)
    and added into its process; samples are added in sorted order and the
    labels of both category axes are sorted, so the result is deterministic.

    Args:
        raw: Histogram with a ``dataset`` (sample name) first axis.
        processes: ``process`` label by sample.
        weights: Normalisation by sample.
    """
    samples = list(raw.axes[0])
    raw_variations = list(raw.axes[1])
    variations = sorted(raw_variations)
    labels = sorted({processes[s] for s in samples})
    out = hist.Hist(
        hist.axis.StrCategory(labels, growth=True, name="process", label="process"),
        hist.axis.StrCategory(variations, growth=True, name="variation", label="variation"),
        *raw.axes[2:],
        storage=hist.storage.Weight(),
        label=raw.label,
    )
    view_in: Any = raw.view(flow=True)
    view_out: Any = out.view(flow=True)
    for sample in sorted(samples):
        w = float(weights[sample])
        i_in = samples.index(sample)
        i_out = labels.index(processes[sample])
        for j_out, variation in enumerate(variations):
            j_in = raw_variations.index(variation)
            view_out.value[i_out, j_out] += w * view_in.value[i_in, j_in]
            view_out.variance[i_out, j_out] += w * w * view_in.variance[i_in, j_in]
    return out


def finalise_output(
    raw: Mapping[str, Any], processes: Mapping[str, str], weights: Mapping[str, float]
) -> dict[str, Any]:
    """The final output of a channel from its merged raw output.

    Args:
        raw: Merged processor output (see the module docstring).
        processes: ``process`` label by sample.
        weights: Normalisation by sample.

    Returns:
        ``{"histograms": {name: Hist(process, variation, ...)}, "cutflow":
        {sample: {cut: [raw, weighted]}}, "accounting": ...}``.
    """
    histograms = {
        name: finalise_histogram(h, processes, weights)
        for name, h in (raw.get("histograms") or {}).items()
    }
    cutflow = {
        sample: {
            cut: [float(v[0]), float(weights[sample]) * float(v[1])] for cut, v in cuts.items()
        }
        for sample, cuts in (raw.get("cutflow") or {}).items()
    }
    return {
        "histograms": histograms,
        "cutflow": cutflow,
        "accounting": dict(raw.get("accounting") or {}),
    }
