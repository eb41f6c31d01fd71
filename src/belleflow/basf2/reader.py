"""Reading basf2 ntuples of either layout, one bounded chunk at a time.

basf2 writes two layouts (``analysis/modules``):

``VariablesToEventBasedTree``
    One entry per event; candidate variables are arrays ``name[__ncandidates__]``,
    event variables (``event_variables``) are scalars.
``VariablesToNtuple``
    One row per candidate, with ``__candidate__`` (its index in the particle
    list) and ``__ncandidates__`` (the list's size in that event); events with
    no candidate have no row. Without a particle list it writes one row per
    event and no candidate counters (an event-level tree).

Both carry ``__experiment__``, ``__run__``, ``__event__`` (older event-based
trees only the ``event_variables`` ``expNum``, ``runNum``, ``evtNum``), and
``__weight__`` (the inverse sampling rate), ``__production__`` where recent.

Reading is in two passes. :func:`index_tree` streams the bookkeeping branches
alone (``uproot.iterate``) and checks them; :func:`merge_event_orders` orders
the events of all trees of a file; :func:`read_chunk` then reads the rows of a
range of those events from one tree by entry range, so memory holds one chunk
of events plus a few tens of bytes of bookkeeping per row.
"""

from __future__ import annotations

import graphlib
import itertools
import os
from dataclasses import dataclass
from typing import Any, Literal

import awkward as ak
import numpy as np
import numpy.typing as npt
import uproot

from belleflow.basf2.naming import BOOKKEEPING, decode_branch_name
from belleflow.ntuple import METADATA_NAME

__all__ = [
    "Basf2ImportError",
    "Basf2Tree",
    "EventIndex",
    "TreeChunk",
    "describe_key",
    "index_tree",
    "inspect_file",
    "merge_event_orders",
    "read_chunk",
    "unpack_keys",
]

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Layout = Literal["event", "candidate"]

#: Event identifiers: basf2 bookkeeping branches, or older event_variables.
_KEYS = ("__experiment__", "__run__", "__event__")
_OLD_KEYS = ("expNum", "runNum", "evtNum")
# (experiment, run, event) packed in one int64: 15 + 16 + 32 bits.
_KEY_BITS = (15, 16, 32)
_STEP = 1_000_000


class Basf2ImportError(Exception):
    """A basf2 file cannot be imported; the message names the file and the problem."""


@dataclass(frozen=True)
class Basf2Tree:
    """What one tree of a basf2 file holds.

    Attributes:
        name: Tree name (``treename`` of the steering file).
        layout: ``event`` (one entry per event) or ``candidate`` (one row per candidate).
        entries: Entries of the tree.
        keys: Branches of experiment, run and event number.
        candidate: Candidate variables (decoded basf2 name -> branch).
        event: Event-level variables of an event-layout tree (decoded -> branch).
        skipped: Branches that cannot be imported (not numbers), with the reason.
    """

    name: str
    layout: Layout
    entries: int
    keys: tuple[str, str, str]
    candidate: dict[str, str]
    event: dict[str, str]
    skipped: dict[str, str]

    def provides(self, name: str) -> bool:
        """Whether the tree has an event-level quantity (a scalar per event or per row)."""
        return name in self.event or (self.layout == "candidate" and name in self.candidate)

    def branch(self, name: str) -> str:
        """The branch of a variable (candidate or event level)."""
        return self.candidate.get(name) or self.event[name]


def _where(path: str | os.PathLike[str], tree: str | None = None) -> str:
    return f"{path}: tree {tree!r}" if tree else str(path)


def _open(path: str | os.PathLike[str]) -> Any:
    try:
        return uproot.open(path)
    except FileNotFoundError:
        msg = f"{path}: no such file"
        raise Basf2ImportError(msg) from None
    except Exception as err:
        reason = " ".join(str(err).split())  # uproot's messages span lines
        msg = f"{path}: not a ROOT file ({type(err).__name__}: {reason})"
        raise Basf2ImportError(msg) from err


def _describe_tree(path: str | os.PathLike[str], name: str, tree: Any) -> Basf2Tree:
    where = _where(path, name)
    branches = {b.name: b for b in tree.branches}
    if all(k in branches for k in _KEYS):
        keys = _KEYS
    elif all(k in branches for k in _OLD_KEYS):
        keys = _OLD_KEYS
    else:
        msg = (
            f"{where}: not a basf2 ntuple: no {', '.join(_KEYS)} branches "
            f"(nor the event_variables {', '.join(_OLD_KEYS)})"
        )
        raise Basf2ImportError(msg)
    if "__weight__" not in branches:
        msg = f"{where}: not a basf2 ntuple: no __weight__ branch"
        raise Basf2ImportError(msg)
    layout: Layout = "candidate" if "__candidate__" in branches else "event"
    if layout == "candidate" and "__ncandidates__" not in branches:
        msg = f"{where}: has __candidate__ but no __ncandidates__"
        raise Basf2ImportError(msg)
    candidate: dict[str, str] = {}
    event: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for branch_name, branch in branches.items():
        if branch_name in keys:
            continue
        jagged = isinstance(branch.interpretation, uproot.AsJagged)
        content = branch.interpretation.content if jagged else branch.interpretation
        if branch_name in BOOKKEEPING:
            if branch_name != "__MCDecayString__":
                event[branch_name] = branch_name
            continue
        try:
            variable = decode_branch_name(branch_name)
        except ValueError as err:
            msg = f"{where}: {err}"
            raise Basf2ImportError(msg) from None
        if not isinstance(content, uproot.AsDtype) or content.to_dtype.kind not in "biuf":
            skipped[variable] = f"not numbers ({branch.interpretation})"
            continue
        if jagged and layout == "candidate":
            msg = f"{where}: branch {branch_name!r} is an array in a one-row-per-candidate tree"
            raise Basf2ImportError(msg)
        if jagged and "__ncandidates__" not in branches:
            msg = f"{where}: array branch {branch_name!r} but no __ncandidates__ branch"
            raise Basf2ImportError(msg)
        if jagged or layout == "candidate":
            candidate[variable] = branch_name
        else:
            event[variable] = branch_name
    return Basf2Tree(name, layout, int(tree.num_entries), keys, candidate, event, skipped)


def inspect_file(path: str | os.PathLike[str]) -> list[Basf2Tree]:
    """Describe the basf2 trees of a file.

    Raises:
        Basf2ImportError: Not a ROOT file, a belleflow ntuple, no TTree, a tree
            that is not basf2's, or a branch name basf2 cannot have written.
    """
    with _open(path) as file:
        if METADATA_NAME in file:
            msg = f"{path}: already a belleflow ntuple (has {METADATA_NAME!r}); nothing to import"
            raise Basf2ImportError(msg)
        names = file.keys(filter_classname="TTree", cycle=False, recursive=False)
        if not names:
            msg = f"{path}: no TTree in the file (found: {', '.join(file.keys(cycle=False)) or 'nothing'})"
            raise Basf2ImportError(msg)
        return [_describe_tree(path, name, file[name]) for name in dict.fromkeys(names)]


def _pack_keys(where: str, experiment: Any, run: Any, event: Any) -> Int64Array:
    parts = []
    for label, raw, bits in zip(
        ("experiment", "run", "event"), (experiment, run, event), _KEY_BITS, strict=True
    ):
        raw = np.asarray(raw)  # noqa: PLW2901 - the same numbers, as an array
        # expNum, runNum, evtNum of older trees are doubles.
        if raw.dtype.kind == "f" and not np.all(np.isfinite(raw) & (raw == np.round(raw))):
            msg = f"{where}: {label} numbers are not integers"
            raise Basf2ImportError(msg)
        values = raw.astype(np.int64)
        bad = (values < 0) | (values >= 1 << bits)
        if np.any(bad):
            msg = f"{where}: {label} number {values[bad][0]} outside 0..{(1 << bits) - 1}"
            raise Basf2ImportError(msg)
        parts.append(values)
    return (parts[0] << (_KEY_BITS[1] + _KEY_BITS[2])) | (parts[1] << _KEY_BITS[2]) | parts[2]


def unpack_keys(keys: Any) -> tuple[Any, Any, Any]:
    """(experiment, run, event) of packed keys (arrays or one int)."""
    event = keys & ((1 << _KEY_BITS[2]) - 1)
    run = (keys >> _KEY_BITS[2]) & ((1 << _KEY_BITS[1]) - 1)
    return keys >> (_KEY_BITS[1] + _KEY_BITS[2]), run, event


def describe_key(key: int) -> str:
    """``experiment E run R event N`` of a packed key."""
    experiment, run, event = unpack_keys(key)
    return f"experiment {experiment} run {run} event {event}"


@dataclass(frozen=True)
class EventIndex:
    """The events of one tree, in file order.

    Attributes:
        keys: Packed (experiment, run, event) of each event, unique.
        counts: Candidates of each event (rows of a candidate tree;
            ``__ncandidates__`` of an event tree, 0 without candidates).
        offsets: Entry of the first row of each event, and the total at the end.
    """

    keys: Int64Array
    counts: Int64Array
    offsets: Int64Array


def _check_candidates(
    where: str, keys: Int64Array, candidate: Int64Array, ncandidates: Int64Array, weight: FloatArray
) -> tuple[Int64Array, Int64Array]:
    """Group candidate rows by event and check basf2's counters; return (starts, counts)."""
    n = len(keys)
    new_event = np.ones(n, dtype=bool)
    new_event[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(new_event)
    counts = np.diff(np.append(starts, n))
    same = ~new_event[1:]
    changed = same & (ncandidates[1:] != ncandidates[:-1])
    if np.any(changed):
        row = int(np.flatnonzero(changed)[0]) + 1
        msg = f"{where}: __ncandidates__ changes within {describe_key(int(keys[row]))} (row {row})"
        raise Basf2ImportError(msg)
    unordered = same & (candidate[1:] <= candidate[:-1])
    outside = (candidate < 0) | (candidate >= ncandidates)
    if np.any(unordered) or np.any(outside):
        row = int(
            np.flatnonzero(outside)[0] if np.any(outside) else np.flatnonzero(unordered)[0] + 1
        )
        msg = (
            f"{where}: __candidate__ {candidate[row]} inconsistent with __ncandidates__ "
            f"{ncandidates[row]} in {describe_key(int(keys[row]))} (row {row}): each event's "
            f"candidates must be 0..__ncandidates__-1, in order"
        )
        raise Basf2ImportError(msg)
    # Without sampling (every weight 1) each candidate has its row.
    unsampled = np.logical_and.reduceat(weight == 1.0, starts) if n else np.zeros(0, bool)
    short = unsampled & (counts != ncandidates[starts])
    if np.any(short):
        i = int(np.flatnonzero(short)[0])
        msg = (
            f"{where}: {describe_key(int(keys[starts[i]]))} has {counts[i]} rows but "
            f"__ncandidates__ = {ncandidates[starts[i]]}"
        )
        raise Basf2ImportError(msg)
    return starts, counts


def index_tree(path: str | os.PathLike[str], tree: Basf2Tree, *, step: int = _STEP) -> EventIndex:
    """Read and check the bookkeeping of one tree (streamed, ``uproot.iterate``).

    Raises:
        Basf2ImportError: An event in two places, ``__candidate__`` and
            ``__ncandidates__`` inconsistent, numbers out of range.
    """
    where = _where(path, tree.name)
    candidate_layout = tree.layout == "candidate"
    wanted = [*tree.keys, "__weight__"]
    if candidate_layout:
        wanted += ["__candidate__", "__ncandidates__"]
    elif "__ncandidates__" in tree.event:
        wanted.append("__ncandidates__")
    columns: dict[str, list[Any]] = {name: [] for name in wanted}
    with _open(path) as file:
        for batch in file[tree.name].iterate(wanted, step_size=step, library="np"):
            for name in wanted:
                columns[name].append(batch[name])
    flat = {
        name: np.concatenate(parts) if parts else np.zeros(0) for name, parts in columns.items()
    }
    keys = _pack_keys(where, *(flat[k] for k in tree.keys))
    weight = flat["__weight__"].astype(np.float64)
    if candidate_layout:
        starts, counts = _check_candidates(
            where,
            keys,
            flat["__candidate__"].astype(np.int64),
            flat["__ncandidates__"].astype(np.int64),
            weight,
        )
        keys = keys[starts]
    else:
        counts = flat.get("__ncandidates__", np.zeros(len(keys))).astype(np.int64)
    unique, first = np.unique(keys, return_index=True)
    if len(unique) != len(keys):
        seen = np.zeros(len(keys), dtype=bool)
        seen[first] = True
        again = int(keys[np.flatnonzero(~seen)[0]])
        msg = (
            f"{where}: {describe_key(again)} appears in two places; the rows of an event "
            f"must be together (write each tree from one basf2 job)"
        )
        raise Basf2ImportError(msg)
    if candidate_layout:
        offsets = np.append(starts, len(flat["__weight__"])).astype(np.int64)
    else:
        offsets = np.arange(len(keys) + 1, dtype=np.int64)
    return EventIndex(keys, counts, offsets)


def _insert(master: Int64Array, seq: Int64Array) -> Int64Array | None:
    """``master`` with the events of ``seq`` it lacks, each after the shared event before
    it; None if the two disagree on the order of shared events."""
    if not len(master):
        return seq
    sorter = np.argsort(master, kind="stable")
    slot = np.minimum(np.searchsorted(master, seq, sorter=sorter), len(master) - 1)
    found = master[sorter[slot]] == seq
    position = np.where(found, sorter[slot], -1)
    if np.any(np.diff(position[found]) <= 0):
        return None
    anchor = np.maximum.accumulate(position) if len(position) else position
    new = np.flatnonzero(~found)
    primary = np.concatenate([np.arange(len(master)), anchor[new]])
    after = np.concatenate([np.zeros(len(master), np.int64), np.ones(len(new), np.int64)])
    rank = np.concatenate([np.zeros(len(master), np.int64), new])
    return np.concatenate([master, seq[new]])[np.lexsort((rank, after, primary))]


def merge_event_orders(
    path: str | os.PathLike[str], names: list[str], sequences: list[Int64Array]
) -> Int64Array:
    """The events of all trees in one order that keeps each tree's order.

    Trees written by one basf2 job list their events in the job's order (a
    candidate tree skips the events without candidates). The longest tree
    comes first (an event-level tree has every event); the events another
    tree adds go after the last event before them they share. If that guess
    of the order of events no tree shares contradicts a later tree, the order
    is found exactly from all trees (``graphlib``).

    Raises:
        Basf2ImportError: No order keeps every tree's order.
    """
    master = np.zeros(0, dtype=np.int64)
    for i in sorted(range(len(sequences)), key=lambda i: -len(sequences[i])):
        merged = _insert(master, sequences[i])
        if merged is None:
            return _topological_order(path, names, sequences)
        master = merged
    return master


def _topological_order(
    path: str | os.PathLike[str], names: list[str], sequences: list[Int64Array]
) -> Int64Array:
    sorter: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter()
    for seq in sequences:
        events = seq.tolist()
        for event in events[:1]:
            sorter.add(event)
        for before, after in itertools.pairwise(events):
            sorter.add(after, before)
    try:
        return np.fromiter(sorter.static_order(), dtype=np.int64)
    except graphlib.CycleError as err:
        cycle = err.args[1]
        msg = (
            f"{path}: trees {', '.join(map(repr, names))} list events in contradicting orders "
            f"({describe_key(cycle[0])} before and after {describe_key(cycle[1])}); "
            f"import trees written by one job"
        )
        raise Basf2ImportError(msg) from None


@dataclass(frozen=True)
class TreeChunk:
    """One tree's share of a range of output events.

    Attributes:
        present: Per output event, whether the tree has it.
        counts: Per output event, the tree's candidates (0 where absent).
        candidate: Candidate variables, flat (all candidates of the range in order).
        event: Event-level quantities per present event, as (minimum, maximum)
            over the event's rows (equal for an event-layout tree).
    """

    present: npt.NDArray[np.bool_]
    counts: Int64Array
    candidate: dict[str, Any]
    event: dict[str, tuple[FloatArray, FloatArray]]


def read_chunk(
    path: str | os.PathLike[str],
    file: Any,
    tree: Basf2Tree,
    index: EventIndex,
    positions: Int64Array,
    span: tuple[int, int],
    variables: list[str],
    event_values: list[str],
) -> TreeChunk:
    """Read the rows of the output events ``span`` (start, stop) from one tree.

    Args:
        path: The file (for messages).
        file: The open uproot file.
        tree: The tree's description.
        index: Its :func:`index_tree`.
        positions: Output position of each of the tree's events (increasing).
        span: First output event of the range and one past the last.
        variables: Candidate variables to read (decoded names).
        event_values: Event-level quantities to read where the tree has them.

    Raises:
        Basf2ImportError: An array's length differs from ``__ncandidates__``.
    """
    start, stop = span
    first, last = (int(i) for i in np.searchsorted(positions, [start, stop]))
    local = positions[first:last] - start
    present = np.zeros(stop - start, dtype=bool)
    present[local] = True
    counts = np.zeros(stop - start, dtype=np.int64)
    counts[local] = index.counts[first:last]
    scalars = [name for name in event_values if tree.provides(name)]
    entry_start, entry_stop = int(index.offsets[first]), int(index.offsets[last])
    arrays = file[tree.name].arrays(
        sorted({tree.branch(v) for v in [*variables, *scalars]}),
        entry_start=entry_start,
        entry_stop=entry_stop,
        library="ak",
    )
    candidate: dict[str, Any] = {}
    for variable in variables:
        values = arrays[tree.branch(variable)]
        if tree.layout == "event":
            lengths = np.asarray(ak.num(values, axis=1), dtype=np.int64)
            wrong = np.flatnonzero(lengths != index.counts[first:last])
            if len(wrong):
                i = int(wrong[0])
                msg = (
                    f"{_where(path, tree.name)}: branch {tree.branch(variable)!r} has "
                    f"{lengths[i]} values in {describe_key(int(index.keys[first + i]))} "
                    f"but __ncandidates__ = {index.counts[first + i]}"
                )
                raise Basf2ImportError(msg)
            values = ak.flatten(values, axis=1)
        candidate[variable] = np.asarray(ak.to_numpy(values))
    event: dict[str, tuple[FloatArray, FloatArray]] = {}
    starts = index.offsets[first:last] - entry_start
    for name in scalars:
        values = np.asarray(ak.to_numpy(arrays[tree.branch(name)]), dtype=np.float64)
        if tree.layout == "candidate" and len(starts):
            # Every present event has at least one row here.
            event[name] = (np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts))
        else:
            event[name] = (values, values)
    return TreeChunk(present, counts, candidate, event)
