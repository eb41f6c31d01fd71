"""The channel contract: what a dark-sector channel gives the run engine.

Following coffea, a channel's processor is a stateless bundle: for each chunk
of events it returns plain dictionaries whose leaves are ``hist.Hist``,
NumPy arrays and numbers, so that the outputs of all chunks merge by
addition (``coffea.processor.accumulate``). A channel module is short: it
declares a :class:`Channel` and subclasses :class:`ChannelProcessor`, which
supplies the plumbing.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import awkward as ak
import hist
import numpy as np
from coffea.processor import ProcessorABC

from belleflow.naming import NOMINAL

__all__ = [
    "SAMPLE_METADATA_KEYS",
    "Channel",
    "ChannelProcessor",
    "ChunkContext",
    "Cutflow",
    "book_histogram",
    "chunk_key",
    "finalise_histogram",
    "finalise_output",
]

#: Keys the engine adds to ``events.metadata`` for every chunk.
SAMPLE_METADATA_KEYS = ("kind", "process", "weight", "experiment", "machine", "unblind")

#: A window ``(low, high)`` of an observable, half-open ``[low, high)``.
Window = tuple[float, float]


def chunk_key(filename: str, start: int, stop: int) -> str:
    """The accounting key of one chunk: ``"filename|start|stop"``."""
    return f"{filename}|{start}|{stop}"


@dataclass(frozen=True)
class Channel:
    """Declarative description of a dark-sector channel.

    Attributes:
        name: Channel name (as registered in the ``belleflow.channels`` entry points).
        description: One line for ``belleflow channels``.
        skim: Catalogue skim whose samples the channel reads.
        experiments: Experiments whose samples it runs on (``"Belle"``, ``"Belle II"``).
        processor_class: The :class:`ChannelProcessor` subclass.
        options: Keyword arguments for ``processor_class`` (part of the run's
            configuration hash).
        statistical_model: Description the limit backend uses (opaque here).
        signal_region_cut: The cut of the cutflow that defines the signal
            region (``None``: the last cut). While a run is blinded, the data
            cutflow stops at the cut before it, so that no output counts data
            events in the signal region.
    """

    name: str
    description: str
    skim: str
    experiments: tuple[str, ...]
    processor_class: type[ChannelProcessor]
    options: Mapping[str, Any] = field(default_factory=dict)
    statistical_model: Any | None = None
    signal_region_cut: str | None = None

    def make_processor(self) -> ChannelProcessor:
        """A fresh processor instance for one run."""
        return self.processor_class(**self.options)


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
            for name, axes in processor.histograms.items()
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
        arrays = list(ak.broadcast_arrays(ak.Array(weights), *map(ak.Array, values.values())))
        # Keep the values' dtypes: integer axes reject floats.
        flat = [ak.to_numpy(ak.flatten(a, axis=None)) for a in arrays]
        weights_flat = flat[0].astype(np.float64)
        columns = dict(zip(values, flat[1:], strict=True))
        if self.blinded:
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
        for observable, windows in self.signal_windows.items():
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
