"""The run's bar on Dask: coffea's, counting chunks instead of tasks.

coffea's ``DaskExecutor`` hands the last future of its tree reduction to
``coffea.processor._dask.progress``, whose bar counts every task behind it:
the chunks, the ``reduce`` tasks merging them and the one that ships the
processor to the workers (84 for 78 chunks). This
bar, put in its place while a run's executor works
(:mod:`belleflow.engine.executors`), counts the chunks alone, with the
columns of :func:`belleflow.progress.progress_bar` (stderr, terminal only).
"""

from __future__ import annotations

from typing import Any

from distributed.client import futures_of
from distributed.diagnostics.progressbar import MultiProgressBar
from distributed.utils import LoopRunner
from rich.progress import Progress

from belleflow.progress import progress_bar

__all__ = ["HELPER_PREFIXES", "dask_chunk_progress"]

#: Key prefixes of coffea's tasks that are not chunks: the merges
#: (``_reduce.__str__``) and the processor's shipping (``submit(lambda x: x, ...)``).
HELPER_PREFIXES = frozenset({"reduce", "lambda"})


def dask_chunk_progress(
    *futures: Any, description: str = "Processing", unit: str = "chunk", **_: Any
) -> None:
    """Draw the chunks behind ``futures`` as they finish; block until they are done.

    The signature of coffea's ``progress(work, description=..., unit=...)``.
    Off a terminal nothing is drawn and coffea fetches the result itself.
    """
    bar = progress_bar()
    if bar.disable:
        return
    with bar:
        _ChunkBar(futures_of(futures), bar, description, unit).wait()  # type: ignore[no-untyped-call]


class _ChunkBar(MultiProgressBar):
    """The scheduler's counts by key prefix, drawn as one task of ``bar`` without coffea's helpers."""

    def __init__(self, keys: Any, bar: Progress, description: str, unit: str) -> None:
        super().__init__(keys, complete=True)  # type: ignore[no-untyped-call]
        self.bar = bar
        self.task = bar.add_task(description, total=None, unit=unit)

    def wait(self) -> None:
        LoopRunner(loop=None).run_sync(self.listen)  # type: ignore[no-untyped-call]

    def _draw_bar(self, remaining: dict[str, int], all: dict[str, int], **_: Any) -> None:
        total = sum(n for group, n in all.items() if group not in HELPER_PREFIXES)
        left = sum(n for group, n in remaining.items() if group not in HELPER_PREFIXES)
        self.bar.update(self.task, total=total, completed=total - left, refresh=True)

    def _draw_stop(self, **kwargs: Any) -> None:
        # A failed chunk is raised (and reported) by coffea when it fetches the result.
        self._draw_bar(**kwargs)
