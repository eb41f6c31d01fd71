"""The one rich console of the command line."""

from __future__ import annotations

from functools import cache

from rich.console import Console

__all__ = ["console"]

# Piped output (CI logs, `| less`) gets no terminal width from rich, which
# would fold the sample tables into unreadable columns.
_PIPED_WIDTH = 160


@cache
def console() -> Console:
    """The shared console: the terminal's width, or a wide one when piped."""
    probe = Console()
    return probe if probe.is_terminal else Console(width=_PIPED_WIDTH)
