"""limits.json and limits.csv of a channel.

All limits are written twice: on sigma x B in fb (``*_sigma_B_fb``) and in
the channel's declared units. The Brazil plots are drawn by
:mod:`belleflow.plotting.brazil`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["write_csv", "write_json"]

_BANDS = ("m2", "m1", "median", "p1", "p2")


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n")
    return path


def write_csv(path: Path, points: Sequence[dict[str, Any]]) -> Path:
    """One row per hypothesis: mass, ctau, method, limits in both units, significance."""
    columns = [
        "hypothesis",
        "mass",
        "ctau",
        "method",
        "observed",
        *(f"expected_{b}" for b in _BANDS),
        "observed_sigma_B_fb",
        *(f"expected_{b}_sigma_B_fb" for b in _BANDS),
        "p0",
        "z_local",
        "n_obs",
        "b",
        "s_per_fb",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for p in points:
            writer.writerow(
                [
                    p["name"],
                    p["mass"],
                    p["ctau"],
                    p["method"],
                    p["observed_converted"],
                    *p["expected_converted"],
                    p["observed"],
                    *p["expected"],
                    p["p0"],
                    p["z_local"],
                    p["n_obs"],
                    p["b"],
                    p["s_per_fb"],
                ]
            )
    return path
