"""Converting one basf2 ntuple file into one belleflow ntuple.

The trees of the file (one per particle list) are joined by (experiment,
run, event): every event any tree has becomes one event of the output, with
each list's candidates in its collection (none where the list has no row).
The content is written with :class:`belleflow.ntuple.NtupleWriter`, chunk by
chunk, and the result passes :func:`belleflow.ntuple.check_file`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import uproot

from belleflow.basf2.mapping import (
    MappingError,
    build_collection,
    identifiers,
    required_variables,
)
from belleflow.basf2.reader import (
    Basf2ImportError,
    Basf2Tree,
    EventIndex,
    TreeChunk,
    describe_key,
    index_tree,
    inspect_file,
    merge_event_orders,
    read_chunk,
    unpack_keys,
)
from belleflow.beams import get_machine
from belleflow.ntuple import COLLECTIONS, FileMetadata, NtupleWriter, check_file
from belleflow.ntuple.io import DEFAULT_BASKET_ENTRIES

__all__ = ["BEAM_VARIABLES", "GENERATOR_WEIGHT", "ImportOptions", "ImportReport", "import_file"]

#: Event-level basf2 variables that give the format's beam branches.
BEAM_VARIABLES = ("Ecms", "beamE", "beamPx", "beamPy", "beamPz")
#: basf2's event weight from the generator (``__weight__`` is the inverse sampling rate).
GENERATOR_WEIGHT = "generatorEventWeight"
_EVENT_VALUES = ("__weight__", "__production__", GENERATOR_WEIGHT, *BEAM_VARIABLES)
Kind = Literal["data", "simulation", "signal"]


@dataclass(frozen=True)
class ImportOptions:
    """How to import: what the files are and which list fills which collection.

    Attributes:
        kind: ``data``, ``simulation`` or ``signal`` (written as simulation).
        experiment: ``Belle`` or ``Belle II``.
        process: Physics process (a catalogue process or signal model);
            required for simulation and signal, ``data`` for data.
        sample: Sample name in the file's metadata (default: the file's stem).
        ecms: Nominal centre-of-mass energy (GeV); also the beam of files
            without the ``Ecms``/``beamE``/``beamPx``... variables.
        lists: Tree name -> belleflow collection; a tree named like a
            collection (any case) needs no entry.
        ignore: Trees to leave out.
        chunk_events: Events per chunk read and written.
    """

    kind: Kind = "data"
    experiment: Literal["Belle", "Belle II"] = "Belle II"
    process: str | None = None
    sample: str | None = None
    luminosity: float | None = None
    ecms: float = 10.58
    lists: Mapping[str, str] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    chunk_events: int = DEFAULT_BASKET_ENTRIES


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_file` did.

    Attributes:
        source: The basf2 file.
        output: The belleflow file written.
        metadata: Its metadata.
        collections: Collection -> the tree that filled it (None: written empty).
        event_trees: Trees read for event-level values only.
        not_imported: Tree -> its variables that no belleflow branch holds.
        beam: Where the beam branches came from.
    """

    source: Path
    output: Path
    metadata: FileMetadata
    collections: dict[str, str | None]
    event_trees: list[str]
    not_imported: dict[str, list[str]]
    beam: str


@dataclass
class _Plan:
    collections: dict[str, Basf2Tree]
    event_trees: list[Basf2Tree]
    variables: dict[str, list[str]]  # tree -> candidate variables read

    @property
    def trees(self) -> list[Basf2Tree]:
        return [*self.collections.values(), *self.event_trees]


def _assign(path: Path, trees: list[Basf2Tree], options: ImportOptions) -> _Plan:
    by_name = {t.name: t for t in trees}
    known = {c.lower(): c for c in COLLECTIONS}
    collections: dict[str, Basf2Tree] = {}
    for tree_name, collection in options.lists.items():
        if tree_name not in by_name:
            msg = f"{path}: no tree {tree_name!r} (trees: {', '.join(by_name)})"
            raise Basf2ImportError(msg)
        if collection not in COLLECTIONS:
            msg = f"{path}: {collection!r} is no collection (collections: {', '.join(COLLECTIONS)})"
            raise Basf2ImportError(msg)
        if collection in collections:
            msg = (
                f"{path}: trees {collections[collection].name!r} and {tree_name!r} both fill "
                f"{collection}: write one list for it (e.g. all tracks in 'pi+:all')"
            )
            raise Basf2ImportError(msg)
        collections[collection] = by_name[tree_name]
    mapped = {t.name for t in collections.values()}
    event_trees = []
    for tree in trees:
        if tree.name in mapped or tree.name in options.ignore:
            continue
        auto = known.get(tree.name.lower())
        if auto is not None and auto not in collections and auto not in options.lists.values():
            collections[auto] = tree
        elif tree.candidate:
            msg = (
                f"{path}: tree {tree.name!r} ({len(tree.candidate)} candidate variables) fills no "
                f"collection: map it with --list {tree.name}=Track|Photon|V0|MCParticle "
                f"or leave it out with --ignore {tree.name}"
            )
            raise Basf2ImportError(msg)
        else:
            event_trees.append(tree)
    missing_ignored = sorted(options.ignore - set(by_name))
    if missing_ignored:
        msg = f"{path}: no tree {missing_ignored[0]!r} to ignore (trees: {', '.join(by_name)})"
        raise Basf2ImportError(msg)
    simulation = options.kind != "data"
    if not simulation and "MCParticle" in collections:
        msg = (
            f"{path}: tree {collections['MCParticle'].name!r} fills MCParticle, "
            f"but data has no MC truth (--kind data)"
        )
        raise Basf2ImportError(msg)
    if simulation and "MCParticle" not in collections:
        msg = (
            f"{path}: --kind {options.kind} needs a generator-level list for MCParticle "
            f"(fillParticleListFromMC) with {', '.join(required_variables('MCParticle', simulation=True, with_v0=False))}"
        )
        raise Basf2ImportError(msg)
    variables: dict[str, list[str]] = {}
    for collection, tree in collections.items():
        needed = required_variables(collection, simulation=simulation, with_v0="V0" in collections)
        absent = [v for v in needed if v not in tree.candidate]
        if absent:
            msg = (
                f"{path}: tree {tree.name!r} ({collection}) lacks the required candidate "
                f"variable(s) {', '.join(absent)}"
            )
            raise Basf2ImportError(msg)
        variables[tree.name] = needed
    if not collections and not event_trees:
        msg = f"{path}: every tree is ignored; nothing to import"
        raise Basf2ImportError(msg)
    return _Plan(collections, event_trees, variables)


def _not_imported(plan: _Plan, beam_trees: set[str]) -> dict[str, list[str]]:
    report = {}
    for tree in plan.trees:
        used = {*plan.variables.get(tree.name, []), GENERATOR_WEIGHT}
        if tree.name in beam_trees:
            used |= set(BEAM_VARIABLES)
        left = [
            v for v in [*tree.candidate, *tree.event] if v not in used and not v.startswith("__")
        ]
        left += [f"{v} ({why})" for v, why in tree.skipped.items()]
        if left:
            report[tree.name] = left
    return report


def _combine(
    path: Path, name: str, chunks: dict[str, TreeChunk], n: int, keys: Any
) -> tuple[Any, Any]:
    """One event-level value per event from every tree that has it; they must agree."""
    low = np.full(n, np.inf)
    high = np.full(n, -np.inf)
    for chunk in chunks.values():
        if name in chunk.event:
            tmin, tmax = chunk.event[name]
            low[chunk.present] = np.minimum(low[chunk.present], tmin)
            high[chunk.present] = np.maximum(high[chunk.present], tmax)
    covered = np.isfinite(low)
    differ = covered & (low != high)
    if np.any(differ):
        i = int(np.flatnonzero(differ)[0])
        msg = (
            f"{path}: {name} differs between the trees or candidates of "
            f"{describe_key(int(keys[i]))} ({low[i]} and {high[i]}); belleflow has one "
            f"value per event (write without per-candidate sampling)"
        )
        raise Basf2ImportError(msg)
    return low, covered


def _event_branches(
    path: Path, chunks: dict[str, TreeChunk], keys: Any, beam: Any, *, simulation: bool
) -> dict[str, Any]:
    n = len(keys)
    experiment, run, event = unpack_keys(keys)
    content: dict[str, Any] = {"__experiment__": experiment, "__run__": run, "__event__": event}
    # An event kept by sampling at 1/N stands for N events of its generator weight.
    weight, _ = _combine(path, "__weight__", chunks, n, keys)
    if simulation:
        generator, covered = _combine(path, GENERATOR_WEIGHT, chunks, n, keys)
        weight = weight * np.where(covered, generator, 1.0)
    content["__weight__"] = weight
    production, covered = _combine(path, "__production__", chunks, n, keys)
    content["__production__"] = np.where(covered, production, 0)
    for name, nominal in zip(BEAM_VARIABLES, beam, strict=True):
        if nominal is not None:
            content[name] = np.full(n, nominal)
            continue
        values, covered = _combine(path, name, chunks, n, keys)
        if not np.all(covered):
            i = int(np.flatnonzero(~covered)[0])
            msg = f"{path}: no tree with {name} has {describe_key(int(keys[i]))}"
            raise Basf2ImportError(msg)
        content[name] = values
    return content


def _collections(
    path: Path, plan: _Plan, chunks: dict[str, TreeChunk], n: int, simulation: bool
) -> dict[str, Any]:
    content: dict[str, Any] = {}
    zeros = np.zeros(n, dtype=np.int64)

    def values_of(collection: str) -> tuple[Any, dict[str, Any]]:
        tree = plan.collections.get(collection)
        if tree is None:
            needed = required_variables(collection, simulation=simulation, with_v0=True)
            return zeros, {v: np.zeros(0) for v in [*needed, "genParticleID"]}
        return chunks[tree.name].counts, chunks[tree.name].candidate

    track_counts, track_values = values_of("Track")
    tracks = (identifiers(track_values.get("mdstIndex", np.zeros(0))), track_counts)
    mc = (np.zeros(0, dtype=np.int64), zeros)
    if simulation:
        mc_counts, mc_values = values_of("MCParticle")
        mc = (identifiers(mc_values["genParticleID"]), mc_counts)
    for collection in COLLECTIONS:
        if collection == "MCParticle" and not simulation:
            continue
        counts, values = values_of(collection)
        try:
            content[collection] = build_collection(
                collection, counts, values, simulation=simulation, tracks=tracks, mc=mc
            )
        except MappingError as err:
            tree = plan.collections[collection].name
            msg = f"{path}: tree {tree!r} ({collection}): {err}"
            raise Basf2ImportError(msg) from None
    return content


def _positions(master: Any, index: EventIndex) -> Any:
    sorter = np.argsort(master, kind="stable")
    return sorter[np.searchsorted(master, index.keys, sorter=sorter)]


def import_file(
    path: str | os.PathLike[str], output: str | os.PathLike[str], options: ImportOptions
) -> ImportReport:
    """Convert one basf2 ntuple file into a belleflow ntuple.

    Args:
        path: The basf2 file (``VariablesToEventBasedTree`` and/or
            ``VariablesToNtuple`` trees).
        output: The belleflow file to write (atomically).
        options: What the file is and how its lists map to collections.

    Returns:
        What was imported, from where, and what was left out.

    Raises:
        Basf2ImportError: The file is not a basf2 ntuple or cannot be
            imported; the message names the file and the problem.
    """
    source = Path(path)
    output = Path(output)
    if output.resolve() == source.resolve():
        msg = f"{source}: the output would overwrite the input"
        raise Basf2ImportError(msg)
    simulation = options.kind != "data"
    process = options.process or ("data" if options.kind == "data" else None)
    if options.kind == "data" and process != "data":
        msg = f"{source}: --process {process!r} with --kind data: the process of data is 'data'"
        raise Basf2ImportError(msg)
    if process is None:
        msg = f"{source}: --kind {options.kind} needs --process (the catalogue process or signal model)"
        raise Basf2ImportError(msg)
    plan = _assign(source, inspect_file(source), options)
    beam_trees = {t.name for t in plan.trees if all(t.provides(v) for v in BEAM_VARIABLES)}
    machine = get_machine(options.experiment)
    if beam_trees:
        beam: tuple[float | None, ...] = (None,) * len(BEAM_VARIABLES)
        beam_source = f"from the trees {sorted(beam_trees)}"
    else:
        p4 = machine.scaled_to(options.ecms).beam_p4
        beam = (options.ecms, p4.E, p4.px, p4.py, p4.pz)
        beam_source = f"nominal {machine.name} at {options.ecms:g} GeV (no {'/'.join(BEAM_VARIABLES)} in the file)"

    trees = plan.trees
    indices = {t.name: index_tree(source, t) for t in trees}
    master = merge_event_orders(
        source, [t.name for t in trees], [indices[t.name].keys for t in trees]
    )
    positions = {name: _positions(master, index) for name, index in indices.items()}
    with NtupleWriter(output, simulation=simulation) as writer, uproot.open(source) as file:
        for start in range(0, len(master), options.chunk_events):
            stop = min(start + options.chunk_events, len(master))
            chunks = {
                t.name: read_chunk(
                    source,
                    file,
                    t,
                    indices[t.name],
                    positions[t.name],
                    (start, stop),
                    plan.variables.get(t.name, []),
                    list(_EVENT_VALUES),
                )
                for t in trees
            }
            keys = master[start:stop]
            content = _event_branches(source, chunks, keys, beam, simulation=simulation)
            content.update(_collections(source, plan, chunks, stop - start, simulation))
            writer.extend(content)
        not_imported = _not_imported(plan, beam_trees)
        metadata = FileMetadata(
            sample=options.sample or source.stem,
            process=process,
            kind="simulation" if simulation else "data",
            experiment=options.experiment,
            machine=machine.name,
            ecms=options.ecms,
            n_events=writer.n_events,
            generator={
                "imported_from": "basf2",
                "source": str(source),
                "kind": options.kind,
                "lists": {c: t.name for c, t in plan.collections.items()},
                "event_trees": [t.name for t in plan.event_trees],
                "beam": beam_source,
                "not_imported": not_imported,
            }
            | ({"luminosity_fb": options.luminosity} if options.luminosity is not None else {}),
        )
        written = writer.close(metadata)
    return ImportReport(
        source=source,
        output=written,
        metadata=check_file(written),
        collections={
            c: (plan.collections[c].name if c in plan.collections else None)
            for c in COLLECTIONS
            if simulation or c != "MCParticle"
        },
        event_trees=[t.name for t in plan.event_trees],
        not_imported=not_imported,
        beam=beam_source,
    )
