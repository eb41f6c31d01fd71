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

__all__ = ["OBSERVED_KEYS", "write_csv", "write_json"]

_BANDS = ("m2", "m1", "median", "p1", "p2")


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as indented JSON (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n")
    return path


#: Keys of a point that depend on the observed data: absent from blinded outputs.
OBSERVED_KEYS = (
    "observed",
    "observed_converted",
    "mu_hat",
    "mu_hat_error",
    "p0",
    "z_local",
    "n_obs",
)


def write_csv(path: Path, points: Sequence[dict[str, Any]], *, blinded: bool) -> Path:
    """One row per hypothesis: mass, ctau, method, limits in both units, significance.

    A blinded scan has no observation: its file has no observed limit, fitted
    signal, p-value or event count column at all, and every row says
    ``blinded = true``.
    """
    columns: list[tuple[str, Any]] = [
        ("hypothesis", lambda p: p["name"]),
        ("mass", lambda p: p["mass"]),
        ("ctau", lambda p: p["ctau"]),
        ("method", lambda p: p["method"]),
        ("blinded", lambda _p: str(blinded).lower()),
        ("observed", lambda p: p["observed_converted"]),
        *(
            (f"expected_{b}", lambda p, i=i: p["expected_converted"][i])
            for i, b in enumerate(_BANDS)
        ),
        ("observed_sigma_B_fb", lambda p: p["observed"]),
        *(
            (f"expected_{b}_sigma_B_fb", lambda p, i=i: p["expected"][i])
            for i, b in enumerate(_BANDS)
        ),
        ("mu_hat_sigma_B_fb", lambda p: p["mu_hat"]),
        ("mu_hat_error_sigma_B_fb", lambda p: p["mu_hat_error"]),
        ("p0", lambda p: p["p0"]),
        ("z_local", lambda p: p["z_local"]),
        ("n_obs", lambda p: p["n_obs"]),
        ("b", lambda p: p["b"]),
        ("s_per_fb", lambda p: p["s_per_fb"]),
    ]
    if blinded:
        hidden = {"observed", "observed_sigma_B_fb", "mu_hat_sigma_B_fb", "mu_hat_error_sigma_B_fb"}
        hidden.update(OBSERVED_KEYS)
        columns = [(name, get) for name, get in columns if name not in hidden]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([name for name, _ in columns])
        for point in points:
            writer.writerow([get(point) for _, get in columns])
    return path
