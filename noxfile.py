#!/usr/bin/env -S uv run --script
# /// script
# dependencies = ["nox>=2025.2.9"]
# ///
"""Task runner: ``nox -s tests``, ``nox -s lint``, ``nox -s benchmarks``."""

from __future__ import annotations

import pathlib

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"

BENCHMARKS = pathlib.Path(__file__).parent / "benchmarks"


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff and mypy, as in .ci/run."""
    session.install("-e.", "--group", "dev")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    """The fast test suite (the README's test command)."""
    session.install("-e.", "--group", "test")
    session.run("pytest", *session.posargs)


@nox.session(default=False)
def benchmarks(session: nox.Session) -> None:
    """Every benchmark under benchmarks/, one after the other."""
    session.install("-e.")
    for script in sorted(BENCHMARKS.glob("bench_*.py")):
        session.run("python", str(script))


if __name__ == "__main__":
    nox.main()
