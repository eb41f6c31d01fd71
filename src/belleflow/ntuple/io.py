"""Writing and checking belleflow ntuples.

Files are written with uproot as real TTrees (``mktree`` + ``extend``; a plain
``f[name] = dict`` would make an RNTuple in uproot 5.7), first under a
temporary name and renamed when complete, so a file with the final name is
never a partial one. Each file carries its :class:`FileMetadata` as a JSON
``TObjString`` so that it describes itself.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

import awkward as ak
import numpy as np
import uproot
from pydantic import BaseModel, ConfigDict, Field

from belleflow.ntuple.format import (
    COLLECTIONS,
    EVENT_BRANCHES,
    FORMAT_VERSION,
    METADATA_NAME,
    SIMULATION_ONLY,
    TREE_NAME,
    branch_name,
    counter_name,
)

__all__ = [
    "DEFAULT_BASKET_ENTRIES",
    "DEFAULT_COMPRESSION",
    "FileMetadata",
    "NtupleError",
    "NtupleWriter",
    "check_file",
    "collection_variables",
    "compression_from_name",
    "read_metadata",
    "write_ntuple",
]

#: Chosen by measurement (docs/ntuple-format.md, benchmarks/bench_compression.py).
DEFAULT_COMPRESSION = "zstd:1"
#: Events per basket (one ``extend`` call writes one basket per branch).
DEFAULT_BASKET_ENTRIES = 100_000


class NtupleError(Exception):
    """A file is not a valid belleflow ntuple; the message names file and problem."""


class FileMetadata(BaseModel):
    """Self-description stored inside every belleflow ntuple.

    Attributes:
        sample: Catalogue name of the sample the file belongs to.
        process: Physics process (``mumu``, ``tautau``, ``data``, a signal name...).
        kind: ``data`` (no MC truth) or ``simulation``.
        experiment: ``Belle`` or ``Belle II``.
        machine: Collider configuration name (``SuperKEKB`` or ``KEKB``).
        ecms: Nominal centre-of-mass energy in GeV.
        n_events: Number of events in the tree.
        generator: Generator settings (seed, cross section, filters, injected
            signal for pseudo-data, ...), free-form but JSON-serialisable.
        format_version: Version of the ntuple specification.
        belleflow_version: Version of belleflow that wrote the file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample: str
    process: str
    kind: Literal["data", "simulation"]
    experiment: Literal["Belle", "Belle II"]
    machine: str
    ecms: float = Field(gt=0)
    n_events: int = Field(ge=0)
    generator: dict[str, Any] = Field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    belleflow_version: str = ""


def compression_from_name(name: str) -> uproot.compression.Compression | None:
    """Parse ``"zstd:3"``, ``"lz4:1"``, ``"zlib:6"``, ``"lzma:5"`` or ``"none"``.

    Examples:
        >>> compression_from_name("zstd:3")
        ZSTD(3)
    """
    algorithm, _, level = name.lower().partition(":")
    classes = {"zstd": uproot.ZSTD, "lz4": uproot.LZ4, "zlib": uproot.ZLIB, "lzma": uproot.LZMA}
    if algorithm == "none":
        return None
    if algorithm not in classes:
        msg = f"unknown compression {name!r}: use one of {sorted(classes)} or 'none'"
        raise ValueError(msg)
    return classes[algorithm](int(level) if level else 1)


def collection_variables(collection: str, *, simulation: bool) -> list[str]:
    """Variables a collection has in data (``simulation=False``) or simulation."""
    dropped = {var for coll, var in SIMULATION_ONLY if coll == collection and var is not None}
    return [b.name for b in COLLECTIONS[collection] if simulation or b.name not in dropped]


def _collections_for(simulation: bool) -> list[str]:
    whole = {coll for coll, var in SIMULATION_ONLY if var is None}
    return [c for c in COLLECTIONS if simulation or c not in whole]


def _conform(events: ak.Array | Mapping[str, Any], simulation: bool) -> dict[str, Any]:
    """Check the event content against the format and cast to its dtypes."""
    fields = set(events.fields) if isinstance(events, ak.Array) else set(events)
    out: dict[str, Any] = {}
    for branch in EVENT_BRANCHES:
        if branch.name not in fields:
            msg = f"event branch {branch.name!r} is missing"
            raise NtupleError(msg)
        out[branch.name] = np.asarray(ak.to_numpy(events[branch.name]), dtype=branch.dtype)
    for collection in _collections_for(simulation):
        if collection not in fields:
            msg = f"collection {collection!r} is missing"
            raise NtupleError(msg)
        coll = events[collection]
        spec = {b.name: b for b in COLLECTIONS[collection]}
        columns = {}
        for var in collection_variables(collection, simulation=simulation):
            if var not in coll.fields:
                msg = f"variable {var!r} of collection {collection!r} is missing"
                raise NtupleError(msg)
            columns[var] = ak.values_astype(coll[var], spec[var].dtype)
        out[collection] = ak.zip(columns, depth_limit=2)
    return out


def _empty_content(simulation: bool) -> dict[str, Any]:
    """Zero events of every branch, with the format's types (to declare the tree)."""
    none = np.zeros(0, dtype=np.int64)
    content: dict[str, Any] = {b.name: np.zeros(0, dtype=b.dtype) for b in EVENT_BRANCHES}
    for collection in _collections_for(simulation):
        spec = {b.name: b for b in COLLECTIONS[collection]}
        content[collection] = {
            var: ak.unflatten(np.zeros(0, dtype=spec[var].dtype), none)
            for var in collection_variables(collection, simulation=simulation)
        }
    return content


class NtupleWriter:
    """Stream events into one ntuple, chunk by chunk, atomically.

    The file is written under a temporary name in the destination folder and
    gets its final name only in :meth:`close`, after the metadata (whose
    ``n_events`` must equal the events written) is stored; an exception
    inside the ``with`` block removes the temporary file. Memory stays at one
    chunk, whatever the size of the file.

    Examples:
        >>> with NtupleWriter("sample.root", simulation=True) as writer:  # doctest: +SKIP
        ...     for chunk in chunks:
        ...         writer.extend(chunk)
        ...     writer.close(metadata)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        simulation: bool,
        compression: str = DEFAULT_COMPRESSION,
        basket_entries: int = DEFAULT_BASKET_ENTRIES,
    ) -> None:
        self.path = Path(path)
        self.simulation = simulation
        self.basket_entries = basket_entries
        self.n_events = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp-{uuid.uuid4().hex[:8]}")
        self._file = uproot.recreate(self._tmp, compression=compression_from_name(compression))
        types = {
            name: value.dtype if isinstance(value, np.ndarray) else ak.zip(value).type.content
            for name, value in _empty_content(simulation).items()
        }
        self._tree = self._file.mktree(
            TREE_NAME, types, counter_name=counter_name, field_name=branch_name
        )

    def extend(self, events: ak.Array | Mapping[str, Any]) -> None:
        """Append events (event branches and collections by name).

        Raises:
            NtupleError: The content does not follow the format (names the file).
        """
        try:
            content = _conform(events, self.simulation)
        except NtupleError as err:
            msg = f"{self.path}: {err}"
            raise NtupleError(msg) from err
        n_events = len(content["__event__"])
        for start in range(0, n_events, self.basket_entries):
            stop = min(start + self.basket_entries, n_events)
            self._tree.extend({name: value[start:stop] for name, value in content.items()})
        self.n_events += n_events

    def close(self, metadata: FileMetadata) -> Path:
        """Store the metadata, close the file and give it its final name.

        Raises:
            NtupleError: The metadata does not describe what was written.
        """
        if metadata.n_events != self.n_events:
            msg = f"{self.path}: metadata says {metadata.n_events} events, content has {self.n_events}"
            raise NtupleError(msg)
        if (metadata.kind == "simulation") != self.simulation:
            msg = f"{self.path}: metadata kind {metadata.kind!r} does not match the content"
            raise NtupleError(msg)
        from belleflow import __version__  # noqa: PLC0415 - avoid an import cycle

        metadata = metadata.model_copy(update={"belleflow_version": __version__})
        self._file[METADATA_NAME] = metadata.model_dump_json()
        self._file.close()
        self._tmp.replace(self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file; nothing appears under the final name."""
        self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._tmp.exists():
            self.abort()


def write_ntuple(
    path: str | os.PathLike[str],
    events: ak.Array | Mapping[str, Any],
    metadata: FileMetadata,
    *,
    compression: str = DEFAULT_COMPRESSION,
    basket_entries: int = DEFAULT_BASKET_ENTRIES,
) -> Path:
    """Write one ntuple file atomically (all events at once; see :class:`NtupleWriter`).

    Args:
        path: Destination; written as ``path`` plus a temporary suffix, then renamed.
        events: Event-level branches and collections (jagged records) by name.
        metadata: The file's self-description; ``n_events`` must match ``events``.
        compression: Algorithm and level, e.g. ``"zstd:3"``.
        basket_entries: Events per basket.

    Returns:
        The path written.

    Raises:
        NtupleError: The content does not follow the format.
    """
    with NtupleWriter(
        path,
        simulation=metadata.kind == "simulation",
        compression=compression,
        basket_entries=basket_entries,
    ) as writer:
        writer.extend(events)
        return writer.close(metadata)


def read_metadata(path: str | os.PathLike[str]) -> FileMetadata:
    """Read the metadata stored inside a belleflow ntuple.

    Raises:
        NtupleError: The file cannot be opened or has no valid metadata.
    """
    try:
        with uproot.open(path) as file:
            if METADATA_NAME not in file:
                msg = f"{path}: no {METADATA_NAME!r} object; not a belleflow ntuple"
                raise NtupleError(msg)
            raw = str(file[METADATA_NAME])
    except NtupleError:
        raise
    except Exception as err:
        msg = f"{path}: cannot be read as a ROOT file ({type(err).__name__}: {err})"
        raise NtupleError(msg) from err
    try:
        return FileMetadata.model_validate(json.loads(raw))
    except ValueError as err:
        msg = f"{path}: invalid metadata: {err}"
        raise NtupleError(msg) from err


def _check_length(path: str | os.PathLike[str], file: Any) -> None:
    """A truncated local file still opens (its directory is at the start)."""
    if "://" in str(path):
        return
    size = Path(path).stat().st_size
    end = file.file.fEND
    if size < end:
        msg = f"{path}: truncated: {size} bytes on disk, the ROOT header says {end}"
        raise NtupleError(msg)


def check_file(path: str | os.PathLike[str]) -> FileMetadata:
    """Check that a file is a complete belleflow ntuple and return its metadata.

    Checks that the metadata parses, the tree exists, every branch of the
    format is present and the number of entries equals the metadata's.

    Raises:
        NtupleError: Naming the file and the first problem found.
    """
    metadata = read_metadata(path)
    simulation = metadata.kind == "simulation"
    try:
        with uproot.open(path) as file:
            _check_length(path, file)
            if TREE_NAME not in file:
                msg = f"{path}: no TTree {TREE_NAME!r}"
                raise NtupleError(msg)
            tree = file[TREE_NAME]
            names = set(tree.keys())
            entries = tree.num_entries
            # Decompress one small branch end to end: catches damaged baskets.
            tree["__event__"].array(library="np")
    except NtupleError:
        raise
    except Exception as err:
        msg = f"{path}: tree {TREE_NAME!r} cannot be read ({type(err).__name__}: {err})"
        raise NtupleError(msg) from err
    expected = [b.name for b in EVENT_BRANCHES]
    for collection in _collections_for(simulation):
        expected.append(counter_name(collection))
        expected += [
            branch_name(collection, v)
            for v in collection_variables(collection, simulation=simulation)
        ]
    missing = [name for name in expected if name not in names]
    if missing:
        msg = f"{path}: missing branches {missing}"
        raise NtupleError(msg)
    if entries != metadata.n_events:
        msg = f"{path}: tree has {entries} entries, metadata says {metadata.n_events}"
        raise NtupleError(msg)
    return metadata
