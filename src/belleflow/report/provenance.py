"""Where a run's numbers come from: versions, catalogue, configuration, inputs.

Most of it is in the run report (``report.json``): the belleflow version and
git revision that ran, the catalogue and its SHA-256, the configuration and
its hash, the command line, the executor. The input files are hashed here,
when the report is written, if they are still where the run read them (a
file that moved or changed since is marked so).
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from belleflow import __version__

__all__ = ["InputFile", "Provenance", "git_revision", "provenance", "sha256_file"]

_CHUNK = 1 << 22


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def git_revision(directory: Path | None = None) -> str | None:
    """The checked-out commit of the git work tree at ``directory`` (None outside one)."""
    where = directory or Path(__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


@dataclass(frozen=True)
class InputFile:
    """One input file of the run: its sample, events read, and hash (None if gone)."""

    path: str
    sample: str
    entries: int | None
    read: int | None
    status: str
    sha256: str | None


@dataclass
class Provenance:
    """What the report states about how a channel's outputs were made."""

    channel: str
    belleflow_version: str
    git_revision: str | None
    report_version: str
    catalogue: dict[str, Any]
    configuration: dict[str, Any]
    configuration_hash: str | None
    command_line: str | None
    executor: str | None
    start: str | None
    end: str | None
    luminosity_fb: float | None
    blinded: bool
    complete: bool
    events: dict[str, Any]
    inputs: list[InputFile] = field(default_factory=list)


def provenance(
    channel: str,
    report: Mapping[str, Any],
    *,
    luminosity_fb: float | None,
    blinded: bool,
    hashes: dict[str, str | None] | None = None,
) -> Provenance:
    """Collect a channel's provenance from its run report and its input files.

    Args:
        channel: Channel name.
        report: Its ``report.json``.
        luminosity_fb: Data luminosity of the run.
        blinded: Whether the run was blinded.
        hashes: Cache of file hashes by path, shared between channels that
            read the same files (filled here).
    """
    cache = hashes if hashes is not None else {}
    inputs = []
    for path, info in sorted(report.get("files", {}).items()):
        if path not in cache:
            local = Path(path)
            cache[path] = sha256_file(local) if local.is_file() else None
        inputs.append(
            InputFile(
                path=path,
                sample=str(info.get("sample", "")),
                entries=info.get("entries"),
                read=info.get("read"),
                status=str(info.get("status", "")),
                sha256=cache[path],
            )
        )
    return Provenance(
        channel=channel,
        belleflow_version=str(report.get("belleflow_version", "unknown")),
        git_revision=report.get("git_revision"),
        report_version=__version__,
        catalogue=dict(report.get("catalogue", {})),
        configuration=dict(report.get("configuration", {})),
        configuration_hash=report.get("configuration_hash"),
        command_line=report.get("command_line"),
        executor=report.get("executor"),
        start=report.get("start"),
        end=report.get("end"),
        luminosity_fb=luminosity_fb,
        blinded=blinded,
        complete=bool(report.get("complete", False)),
        events=dict(report.get("events", {})),
        inputs=inputs,
    )
