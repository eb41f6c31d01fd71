"""The run report (``DIR/CHANNEL/report.json``): provenance, accounting, cutflow, timing.

Accounting rules: for every sample the events it should deliver (the
catalogue's ``events`` for simulation and signals, its files' entries for
data; :class:`~belleflow.engine.fileset.SampleAccount`) must equal the events
read, and for every file the events read must equal the entries of its event
tree. Any difference is listed (``differences`` by file, ``samples[...].problems``
by sample) with the events missing and the reason (a bad, duplicate, extra
or missing file, a failed chunk, ``--maxchunks``). ``complete`` is true only
when nothing is missing; ``incomplete_reason`` says whether the gap was
chosen (``maxchunks``, ``skip-bad-files``) or not (``failed``,
``interrupted``). Every string is redacted (:mod:`belleflow.engine.redact`).
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
from belleflow.engine.redact import redact, redact_tree
from belleflow.processor import Channel, chunk_key

__all__ = [
    "build_report",
    "command_line",
    "configuration_hash",
    "failure_report",
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
        "signal_region_cut": channel.signal_region_cut,
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
    out: list[dict[str, Any]] = [
        {
            "file": bad.path,
            "sample": bad.sample,
            "expected": bad.lost_events,
            "read": 0,
            "missing": bad.lost_events,
            "reason": f"bad file skipped: {bad.reason}",
        }
        for bad in plan.bad_files
    ]
    for path, expected in plan.expected.items():
        shown = redact(path)
        read = int(files_read.get(shown, 0))
        if read == expected:
            continue
        reasons = list(failed_by_file.get(shown, []))
        if path in plan.skipped_chunks:
            ranges = ", ".join(f"{a}-{b}" for a, b in plan.skipped_chunks[path])
            events = plan.skipped_by_choice[path]
            reasons.append(f"not processed (--maxchunks): entries {ranges} ({events} events)")
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


def _redacted_counts(counts: Mapping[str, Any]) -> dict[str, int]:
    """Counts by file (or chunk key) under redacted names: stored chunks carry those."""
    out: dict[str, int] = {}
    for key, value in counts.items():
        if key:
            out[redact(key)] = out.get(redact(key), 0) + int(value)
    return out


def _reason(
    *,
    error: str | None,
    interrupted: bool,
    problems: bool,
    skip_bad_files: bool,
    by_choice: bool,
) -> str:
    if interrupted:
        return "interrupted"
    if error is not None:
        return "failed"
    if problems:
        return "skip-bad-files (incomplete by choice)" if skip_bad_files else "failed"
    if by_choice:
        return "maxchunks (incomplete by choice)"
    return "failed"


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
    blinding: Mapping[str, Any],
    cluster: Mapping[str, Any] | None = None,
    error: str | None = None,
    interrupted: bool = False,
) -> dict[str, Any]:
    """Assemble the report of one channel's run.

    Args:
        channel: The channel.
        plan: Its plan.
        wrapped: coffea's wrapped output (``out``, ``metrics``, ``failures``, ...),
            None if the run failed.
        final: The finalised output (:func:`belleflow.processor.finalise_output`),
            its data cutflow already blinded.
        provenance: Version, catalogue, configuration hash, command line, times, executor.
        timing: ``planning_s``, ``processing_s``, ``writing_s``.
        skip_bad_files: Whether bad files were skipped by choice.
        maxchunks: The ``--maxchunks`` limit, if any.
        blinding: :func:`belleflow.engine.blinding.blinding_record`.
        cluster: What happened to the cluster (lost workers), if any.
        error: The error that stopped the run.
        interrupted: The run was stopped by the user (SIGINT).

    Returns:
        The report as a JSON-serialisable dict, every string redacted.
    """
    wrapped = wrapped or {}
    accounting = (final or {}).get("accounting", {})
    files_read = _redacted_counts(accounting.get("files", {}))
    chunks_read = _redacted_counts(accounting.get("chunks", {}))
    samples_read = {k: int(v) for k, v in accounting.get("samples", {}).items()}
    failures: dict[str, dict[str, Any]] = dict(wrapped.get("failures", {}))
    retries: dict[str, int] = dict(wrapped.get("retries", {}))
    metrics: dict[str, Any] = dict(wrapped.get("metrics", {}))
    stopped = error is not None or interrupted
    differences = [] if stopped else _differences(plan, files_read, failures)
    sample_problems = any(a.problems for a in plan.accounts.values())
    expected_total = plan.expected_events
    read_total = sum(files_read.values())
    lost_by_choice = sum(plan.skipped_by_choice.values())
    lost_bad = sum(int(b.lost_events or 0) for b in plan.bad_files) + sum(
        int(f["lost_events"]) for f in failures.values()
    )
    complete = (
        not stopped
        and not differences
        and not plan.bad_files
        and not sample_problems
        and not plan.unknown_samples
        and read_total == expected_total
    )
    reason = None
    if not complete:
        reason = _reason(
            error=error,
            interrupted=interrupted,
            problems=bool(plan.bad_files or failures or sample_problems),
            skip_bad_files=skip_bad_files,
            by_choice=bool(plan.skipped_by_choice and maxchunks is not None),
        )
    processing = float(timing.get("processing_s", 0.0))
    events_processed = int(metrics.get("entries", read_total))
    files_section = {
        path: {
            "sample": plan.sample_of_file.get(path, ""),
            "entries": info.entries,
            "read": int(files_read.get(redact(path), 0)),
            "status": "ok" if info.ok else "bad",
            "uuid": info.uuid,
            "identity": info.identity,
            **({"reason": info.error} if info.error else {}),
        }
        for path, info in plan.files.items()
    }
    report = {
        "channel": channel.name,
        "description": channel.description,
        "skim": channel.skim,
        "experiments": list(channel.experiments),
        "complete": complete,
        "incomplete_reason": reason,
        "error": error,
        "blinding": dict(blinding),
        **dict(provenance),
        "events": {
            "expected": expected_total,
            "expected_unknown_samples": plan.unknown_samples,
            "planned": sum(plan.expected.values()) - lost_by_choice,
            "read": read_total,
            "missing": expected_total - read_total,
            "lost_bad_files": lost_bad,
            "not_processed_by_choice": lost_by_choice,
        },
        "differences": differences,
        "bad_files": [b.to_dict() for b in plan.bad_files],
        "failures": [{"chunk": k, **v} for k, v in sorted(failures.items())],
        "retries": {"total": sum(retries.values()), "by_chunk": retries},
        "cluster": dict(cluster or {"workers_lost": []}),
        "chunks": {
            "planned": len(plan.work_items),
            "processed": len(chunks_read),
            "resumed": int(wrapped.get("resumed", 0)),
            "failed": len(failures),
            "skipped_by_choice": [
                chunk_key(path, start, stop)
                for path, ranges in plan.skipped_chunks.items()
                for start, stop in ranges
            ],
            "events": chunks_read,
        },
        "files": files_section,
        "samples": {
            name: {
                **s.to_dict(),
                "expected_events": plan.accounts[name].expected,
                "expected_from": plan.accounts[name].source,
                "events_read": samples_read.get(name, 0),
                "problems": plan.accounts[name].problems,
            }
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
    return dict(redact_tree(report))


def failure_report(
    *,
    channel: Channel,
    provenance: Mapping[str, Any],
    blinding: Mapping[str, Any],
    error: str,
    reason: str,
) -> dict[str, Any]:
    """The report of a run that stopped before it had a plan (or before it started).

    Args:
        channel: The channel.
        provenance: As for :func:`build_report`.
        blinding: As for :func:`build_report`.
        error: What stopped it.
        reason: ``failed``, ``interrupted`` or ``running`` (written when a run
            starts, replaced when it ends).
    """
    report = {
        "channel": channel.name,
        "description": channel.description,
        "skim": channel.skim,
        "experiments": list(channel.experiments),
        "complete": False,
        "incomplete_reason": reason,
        "error": error,
        "blinding": dict(blinding),
        **dict(provenance),
        "events": None,
        "cutflow": {},
    }
    return dict(redact_tree(report))


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
