"""Progress bars: coffea's style, on stderr, drawn only on a terminal.

``belleflow run`` (coffea's bars, drawn here: see
:mod:`belleflow.engine.executors`), ``limits``, ``train`` and ``demo`` draw
their bars with coffea's columns (description, percentage, bar, done/total,
elapsed < remaining, rate), so that the commands look alike. A bar goes to stderr, keeping stdout for results, and
is off when stderr is not a terminal (CI logs, pipes) or with
``--no-progress``.

Examples:
    >>> import io
    >>> from rich.console import Console
    >>> quiet = Console(file=io.StringIO())  # not a terminal: no bar
    >>> with progress_bar(console=quiet) as bar:
    ...     task = bar.add_task("four_muon zprime", total=3, unit="hypotheses")
    ...     bar.update(task, completed=3)
    >>> quiet.file.getvalue()
    ''
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import Progress, TaskID

__all__ = ["Counter", "bar_enabled", "counter", "progress_bar"]

#: ``counter(label, done, total)``: a task named ``label`` has ``done`` of ``total`` items done.
Counter = Callable[[str, int, int], None]


def bar_enabled(enabled: bool = True, console: Console | None = None) -> bool:
    """Whether a bar would be drawn: asked for, and stderr (or ``console``) is a terminal."""
    target = console if console is not None else Console(stderr=True)
    return enabled and target.is_terminal and not target.is_dumb_terminal


def progress_bar(enabled: bool = True, *, console: Console | None = None) -> Progress:
    """A ``rich`` bar with coffea's columns, on stderr, disabled off a terminal.

    Args:
        enabled: False for ``--no-progress``.
        console: Where to draw (default stderr).
    """
    from coffea.util import rich_bar  # noqa: PLC0415 - coffea on demand

    target = console if console is not None else Console(stderr=True)
    return Progress(
        *rich_bar().columns,
        console=target,
        auto_refresh=False,
        disable=not bar_enabled(enabled, target),
    )


def counter(bar: Progress, unit: str) -> Counter:
    """A :data:`Counter` drawing one task of ``bar`` per label, counting ``unit``.

    Examples:
        >>> import io
        >>> from rich.console import Console
        >>> screen = Console(file=io.StringIO(), force_terminal=True, width=100)
        >>> with progress_bar(console=screen) as bar:
        ...     count = counter(bar, "hypotheses")
        ...     count("four_muon zprime_lmu_ltau", 0, 2)
        ...     count("four_muon zprime_lmu_ltau", 2, 2)
        >>> "four_muon zprime_lmu_ltau" in screen.file.getvalue()
        True
        >>> "2/2" in screen.file.getvalue()
        True
    """
    tasks: dict[str, TaskID] = {}

    def count(label: str, done: int, total: int) -> None:
        if label not in tasks:
            tasks[label] = bar.add_task(label, total=total, unit=unit)
        bar.update(tasks[label], completed=done, total=total, refresh=True)

    return count
