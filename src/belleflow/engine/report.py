"""The run report (``DIR/CHANNEL/report.json``): provenance, accounting, cutflow, timing.

Accounting rule: for every file the events read must equal the entries of
its event tree. Any difference is listed in ``differences`` with the file,
the sample, the events missing and the reason (a bad file, a failed chunk,
or ``--maxchunks``). ``complete`` is true only when nothing is missing;
``incomplete_reason`` says whether the gap was chosen (``maxchunks``,
``skip-bad-files``) or not (``failed``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from belleflow import __version__
from belleflow.engine.fileset import RunPlan
from belleflow.processor import Channel

__all__ = [
    "build_report",
    "command_line",
    "configuration_hash",
    "file_sha256",
    "git_revision",
    "now_iso",
    "write_report",
]


def now_iso() -> str:
    """The current UTC time, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_revision() -> str | None:
    """The git revision of the belleflow source tree, if it is a git checkout."""
    root = Path(__file__).resolve().parents[3]
    if not (root / ".git").exists():
        return None
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def _source_hash(cls: type) -> str:
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        source = f"{cls.__module__}.{cls.__qualname__}"
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def configuration_hash(
    channel: Channel, *, catalogue_sha256: str, unblind: bool, samples: list[str] | None
) -> str:
    """Hash of everything that changes a chunk's output (keys the checkpoints).

    Chunk boundaries, executor and ``maxchunks`` are not part of it: they
    change which chunks exist, not what a chunk produces.
    """
    config = {
        "belleflow": __version__,
        "channel": channel.name,
        "skim": channel.skim,
        "experiments": list(channel.experiments),
        "processor": f"{channel.processor_class.__module__}.{channel.processor_class.__qualname__}",
        "processor_source": _source_hash(channel.processor_class),
        "options": repr(sorted(channel.options.items())),
        "catalogue": catalogue_sha256,
        "unblind": unblind,
        "samples": samples,
    }
    text = json.dumps(config, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _differences(
    plan: RunPlan, files_read: Mapping[str, int], failures: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    owner = plan.sample_of_file
    failed_by_file: dict[str, list[str]] = {}
    for key, failure in failures.items():
        failed_by_file.setdefault(key.split("|", 1)[0], []).append(
            f"chunk {key.split('|', 1)[1].replace('|', '-')}: {failure['reason']}"
        )
    out: list[dict[str, Any]] = []
    for bad in plan.bad_files:
        out.append(
            {
                "file": bad.path,
                "sample": bad.sample,
                "expected": bad.lost_events,
                "read": 0,
                "missing": bad.lost_events,
                "reason": f"bad file skipped: {bad.reason}",
            }
        )
    for path, expected in plan.expected.items():
        read = int(files_read.get(path, 0))
        if read == expected:
            continue
        reasons = list(failed_by_file.get(path, []))
        if path in plan.skipped_by_choice:
            reasons.append(f"not processed (--maxchunks): {plan.skipped_by_choice[path]} events")
        out.append(
            {
                "file": path,
                "sample": owner.get(path, ""),
                "expected": expected,
                "read": read,
                "missing": expected - read,
                "reason": "; ".join(reasons) or "unexplained difference",
            }
        )
    return out


def build_report(
    *,
    channel: Channel,
    plan: RunPlan,
    wrapped: Mapping[str, Any] | None,
    final: Mapping[str, Any] | None,
    provenance: Mapping[str, Any],
    timing: Mapping[str, float],
    skip_bad_files: bool,
    maxchunks: int | None,
    error: str | None = None,
) -> dict[str, Any]:
    """Assemble the report of one channel's run.

    Args:
        channel: The channel.
        plan: Its plan.
        wrapped: coffea's wrapped output (``out``, ``metrics``, ``failures``, ...),
            None if the run failed.
        final: The finalised output (:func:`belleflow.processor.finalise_output`).
        provenance: Version, catalogue, configuration hash, command line, times, executor.
        timing: ``planning_s``, ``processing_s``, ``writing_s``.
        skip_bad_files: Whether bad files were skipped by choice.
        maxchunks: The ``--maxchunks`` limit, if any.
        error: The error that stopped the run.

    Returns:
        The report as a JSON-serialisable dict.
    """
    wrapped = wrapped or {}
    accounting = (final or {}).get("accounting", {})
    files_read: dict[str, int] = dict(accounting.get("files", {}))
    files_read.pop("", None)
    chunks_read: dict[str, int] = dict(accounting.get("chunks", {}))
    failures: dict[str, dict[str, Any]] = dict(wrapped.get("failures", {}))
    retries: dict[str, int] = dict(wrapped.get("retries", {}))
    metrics: dict[str, Any] = dict(wrapped.get("metrics", {}))
    differences = _differences(plan, files_read, failures) if error is None else []
    expected_total = sum(plan.expected.values())
    read_total = sum(files_read.values())
    lost_by_choice = sum(plan.skipped_by_choice.values())
    lost_bad = sum(int(b.lost_events or 0) for b in plan.bad_files) + sum(
        int(f["lost_events"]) for f in failures.values()
    )
    complete = error is None and not differences
    if error is not None:
        reason: str | None = "failed"
    elif complete:
        reason = None
    elif plan.bad_files or failures:
        reason = "skip-bad-files (incomplete by choice)" if skip_bad_files else "failed"
    elif plan.skipped_by_choice and maxchunks is not None:
        reason = "maxchunks (incomplete by choice)"
    else:
        reason = "failed"
    processing = float(timing.get("processing_s", 0.0))
    events_processed = int(metrics.get("entries", read_total))
    files_section = {
        path: {
            "sample": plan.sample_of_file.get(path, ""),
            "entries": info.entries,
            "read": int(files_read.get(path, 0)),
            "status": "ok" if info.ok else "bad",
            **({"reason": info.error} if info.error else {}),
        }
        for path, info in plan.files.items()
    }
    return {
        "channel": channel.name,
        "description": channel.description,
        "skim": channel.skim,
        "experiments": list(channel.experiments),
        "complete": complete,
        "incomplete_reason": reason,
        "error": error,
        **dict(provenance),
        "events": {
            "expected": expected_total,
            "read": read_total,
            "missing": expected_total - read_total,
            "lost_bad_files": lost_bad,
            "not_processed_by_choice": lost_by_choice,
        },
        "differences": differences,
        "bad_files": [b.to_dict() for b in plan.bad_files],
        "failures": [{"chunk": k, **v} for k, v in sorted(failures.items())],
        "retries": {"total": sum(retries.values()), "by_chunk": retries},
        "chunks": {
            "planned": len(plan.work_items),
            "processed": len(chunks_read),
            "resumed": int(wrapped.get("resumed", 0)),
            "failed": len(failures),
            "events": chunks_read,
        },
        "files": files_section,
        "samples": {
            name: {**s.to_dict(), "events_read": int(accounting.get("samples", {}).get(name, 0))}
            for name, s in plan.samples.items()
        },
        "cutflow": (final or {}).get("cutflow", {}),
        "timing": {
            **{k: round(float(v), 4) for k, v in timing.items()},
            "processor_s": round(float(metrics.get("processtime", 0.0)), 4),
            "events_per_s": round(events_processed / processing, 1) if processing > 0 else None,
            "bytes_read": int(metrics.get("bytesread", 0)),
            "columns_read": sorted(metrics.get("columns", [])),
        },
    }


def write_report(report: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write ``report.json`` atomically."""
    target = Path(path)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(target)
    return target


def command_line() -> str:
    """The command line of this process."""
    return " ".join(sys.argv)
