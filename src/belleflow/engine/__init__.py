"""The belleflow run engine: channels over a catalogue on coffea executors and Dask.

One concern per module: :mod:`~belleflow.engine.fileset` (planning and the
file metadata cache), :mod:`~belleflow.engine.executors` (executors, clusters,
retries), :mod:`~belleflow.engine.checkpoint` (resumable runs),
:mod:`~belleflow.engine.outputs` (histogram files),
:mod:`~belleflow.engine.report` (``report.json``) and
:mod:`~belleflow.engine.runner` (:func:`run_channels`). See ``docs/running.md``.
"""

from __future__ import annotations

from belleflow.engine.executors import ChunkError, job_script, load_cluster_spec
from belleflow.engine.fileset import BadFileError, FileMetadataCache
from belleflow.engine.outputs import load_histograms
from belleflow.engine.runner import (
    DEFAULT_CHUNKSIZE,
    DEFAULT_OUT,
    ChannelResult,
    RunError,
    RunResult,
    resolve_channel,
    run_channels,
)

__all__ = [
    "DEFAULT_CHUNKSIZE",
    "DEFAULT_OUT",
    "BadFileError",
    "ChannelResult",
    "ChunkError",
    "FileMetadataCache",
    "RunError",
    "RunResult",
    "job_script",
    "load_cluster_spec",
    "load_histograms",
    "resolve_channel",
    "run_channels",
]
