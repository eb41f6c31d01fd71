"""Checkpoints: every finished chunk's output stored as it completes, as JSON.

coffea's ``SimpleCheckpointer`` stores cloudpickles; this one stores the
same wrapped chunk output (``{"out": ..., "metrics": ..., "processed": ...}``)
as JSON: histograms in the UHI format (``hist.serialization``), NumPy arrays,
sets and coffea ``WorkItem`` objects under small tags. A chunk file is
written under a temporary name and renamed, so a chunk interrupted while
being saved is simply recomputed on ``--resume``.

Layout: ``DIR/.checkpoints/CHANNEL/<configuration hash>/<sample>/<file uuid>/<start>-<stop>.json``
(outside ``DIR/CHANNEL``, which a finished run replaces as a whole).
The configuration hash covers everything that changes a chunk's output
(channel, processor options, catalogue, unblinding, belleflow version), so a
resume never mixes chunks of different configurations. What is stored is
redacted (file URLs lose their secrets) and, for data in a blinded run,
blinded (:func:`belleflow.engine.blinding.blind_chunk`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hist
import numpy as np
import uhi.io.json
from coffea.processor import CheckpointerABC
from coffea.processor.executor import WorkItem
from hist import serialization

from belleflow.engine.redact import redact

__all__ = ["JsonCheckpointer", "from_json", "json_default", "json_object_hook", "to_json"]


def json_default(obj: Any) -> Any:
    """``json.dumps`` hook for histograms, arrays, sets and coffea work items."""
    if isinstance(obj, hist.Hist):
        return uhi.io.json.default(obj)
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, set | frozenset):
        return {"__set__": sorted(obj, key=repr)}
    if isinstance(obj, WorkItem):
        return {
            "__workitem__": {
                "dataset": obj.dataset,
                "filename": obj.filename,
                "treename": obj.treename,
                "entrystart": obj.entrystart,
                "entrystop": obj.entrystop,
                "fileuuid": bytes(obj.fileuuid).hex(),
                "usermeta": obj.usermeta,
            }
        }
    msg = f"Object of type {type(obj).__name__} is not JSON serializable"
    raise TypeError(msg)


def json_object_hook(dct: dict[str, Any]) -> Any:
    """``json.loads`` hook reversing :func:`json_default`."""
    if "__ndarray__" in dct:
        return np.asarray(dct["__ndarray__"], dtype=dct["dtype"])
    if "__set__" in dct:
        return set(dct["__set__"])
    if "__workitem__" in dct:
        item = dict(dct["__workitem__"])
        item["fileuuid"] = bytes.fromhex(item["fileuuid"])
        return WorkItem(**item)
    dct = uhi.io.json.object_hook(dct)
    if "uhi_schema" in dct:
        return serialization.from_uhi(dct)
    return dct


def to_json(obj: Any, *, indent: int | None = None) -> str:
    """Serialise a (nested) output to JSON, losslessly."""
    return json.dumps(obj, default=json_default, indent=indent)


def from_json(text: str) -> Any:
    """Inverse of :func:`to_json`."""
    return json.loads(text, object_hook=json_object_hook)


class JsonCheckpointer(CheckpointerABC):  # type: ignore[misc]
    """coffea checkpointer writing each chunk's output as a JSON file.

    Args:
        directory: Folder of this configuration's checkpoints (shared by all
            workers: on a batch system it must be on a shared filesystem).
        load_existing: Reuse stored chunks (``--resume``); otherwise chunks
            are only written.
        prepare: Applied to a chunk's output and metadata before it is stored
            (the engine blinds data chunks with it).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        load_existing: bool,
        prepare: Callable[[Any, dict[str, Any]], Any] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.load_existing = load_existing
        self.prepare = prepare

    def filepath(self, metadata: dict[str, Any]) -> Path:
        """Where one chunk's output is stored."""
        uid = metadata.get("fileuuid") or "no-uuid"
        name = f"{metadata['entrystart']}-{metadata['entrystop']}.json"
        return self.directory / str(metadata["dataset"]) / str(uid) / name

    def load(self, metadata: Any, processor_instance: Any) -> Any:  # noqa: ARG002 - coffea's signature
        """The stored output of a chunk, marked as resumed, or None."""
        if not self.load_existing:
            return None
        path = self.filepath(metadata)
        try:
            out = from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # Missing or unreadable: the chunk is simply processed again.
            return None
        out["resumed"] = 1
        return out

    def save(self, output: Any, metadata: Any, processor_instance: Any) -> None:  # noqa: ARG002 - coffea's signature
        """Store a chunk's output atomically (temporary file, then rename)."""
        path = self.filepath(metadata)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.prepare is not None:
            output = self.prepare(output, metadata)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(redact(to_json(output)), encoding="utf-8")
        tmp.replace(path)

    def clear(self) -> None:
        """Delete all stored chunks of this configuration."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def count(self) -> int:
        """Number of stored chunks."""
        return sum(1 for _ in self.directory.rglob("*.json")) if self.directory.is_dir() else 0
