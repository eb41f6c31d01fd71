"""The cutflow table: events after each cut, raw and weighted, per process.

Built from the run report's per-sample cutflow (``{sample: {cut: [raw,
weighted]}}``): data samples are summed into "Data", simulation samples
into their process, and the chosen signal points are listed one by one.
Weighted numbers are expected events at the catalogue's luminosity for
simulation, and per fb of sigma x B for signals. A cut missing for a sample
(data beyond the signal-region cut while the run is blinded) is ``None``.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from belleflow.plotting.labels import process_label

__all__ = ["CutflowRow", "CutflowTable", "cutflow_table", "write_cutflow_csv"]


@dataclass(frozen=True)
class CutflowRow:
    """One process (or signal point): raw and weighted events after each cut."""

    label: str
    name: str
    kind: str
    raw: list[float | None]
    weighted: list[float | None]


@dataclass(frozen=True)
class CutflowTable:
    """Cuts in order, one row per process."""

    cuts: list[str]
    rows: list[CutflowRow]


def _cut_order(cutflows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Cuts in the order of the longest cutflow (others are its prefixes)."""
    order: list[str] = []
    for flow in sorted(cutflows, key=len, reverse=True):
        order.extend(c for c in flow if c not in order)
    return order


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def cutflow_table(
    report: Mapping[str, Any], signal_samples: Mapping[str, str] | None = None
) -> CutflowTable:
    """Sum the report's cutflows by process.

    Args:
        report: ``report.json``.
        signal_samples: Signal sample name -> row label, for the points to list
            (other signal samples are left out: a grid has dozens).

    Returns:
        Data first, then simulation by decreasing raw events at the first cut,
        then the signal points in the given order.
    """
    samples = report.get("samples", {})
    flows: dict[str, Mapping[str, Any]] = report.get("cutflow", {})
    cuts = _cut_order(list(flows.values()))
    signal_samples = signal_samples or {}
    grouped: dict[tuple[str, str], tuple[list[float | None], list[float | None]]] = {}
    for name, flow in flows.items():
        sample = samples.get(name, {})
        kind = str(sample.get("kind", "simulation"))
        if kind == "signal":
            if name not in signal_samples:
                continue
            key = (kind, name)
        else:
            key = (kind, str(sample.get("process", name)))
        raw = [float(flow[c][0]) if c in flow else None for c in cuts]
        weighted = [float(flow[c][1]) if c in flow else None for c in cuts]
        if key in grouped:
            old_raw, old_weighted = grouped[key]
            raw = [_add(a, b) for a, b in zip(old_raw, raw, strict=True)]
            weighted = [_add(a, b) for a, b in zip(old_weighted, weighted, strict=True)]
        grouped[key] = (raw, weighted)
    rank = {"data": 0, "simulation": 1, "signal": 2}
    signal_order = list(signal_samples)

    def order(item: tuple[tuple[str, str], Any]) -> tuple[int, float]:
        (kind, name), (raw, _) = item
        if kind == "signal":
            return rank[kind], float(signal_order.index(name))
        return rank.get(kind, 1), -(raw[0] or 0.0)

    rows = [
        CutflowRow(
            signal_samples[name] if kind == "signal" else process_label(name),
            name,
            kind,
            raw,
            weighted,
        )
        for (kind, name), (raw, weighted) in sorted(grouped.items(), key=order)
    ]
    return CutflowTable(cuts, rows)


def write_cutflow_csv(table: CutflowTable, path: Path) -> Path:
    """One line per (process, cut): ``process,kind,cut,raw,weighted`` (empty when blinded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["process", "kind", "cut", "raw", "weighted"])
        for row in table.rows:
            for cut, raw, weighted in zip(table.cuts, row.raw, row.weighted, strict=True):
                writer.writerow(
                    [
                        row.name,
                        row.kind,
                        cut,
                        "" if raw is None else raw,
                        "" if weighted is None else weighted,
                    ]
                )
    return path
