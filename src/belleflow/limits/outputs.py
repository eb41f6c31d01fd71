"""limits.json, limits.csv and the Brazil plot of a channel.

All limits are written twice: on sigma x B in fb (``*_sigma_B_fb``) and in
the channel's declared units. The Brazil plot shows the latter on a log
axis: observed (solid), median expected (dashed), +-1 sigma (green) and
+-2 sigma (yellow) bands, with the confidence level and luminosity in the
legend. A lifetime scan gets one plot per lifetime (``brazil_ctau<c>``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["brazil_plot", "luminosity_label", "write_csv", "write_json"]

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


def luminosity_label(luminosity_fb: float | None) -> str:
    """``"362 fb$^{-1}$"``, or pb^-1 below 1 fb^-1 (the demo's small fractions).

    Examples:
        >>> luminosity_label(362.0)
        '362 fb$^{-1}$'
        >>> luminosity_label(0.00724)
        '7.24 pb$^{-1}$'
    """
    if not luminosity_fb:
        return ""
    if luminosity_fb >= 1.0:
        return f"{luminosity_fb:.3g} fb$^{{-1}}$"
    return f"{luminosity_fb * 1e3:.3g} pb$^{{-1}}$"


def brazil_plot(
    stem: Path,
    points: Sequence[dict[str, Any]],
    *,
    ylabel: str,
    cl: float,
    luminosity_fb: float | None,
    experiment: str = "Belle II",
    title: str = "",
    blinded: bool = False,
) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.pdf``; return their paths."""
    import matplotlib as mpl  # noqa: PLC0415 - plotting only when asked

    mpl.use("Agg", force=False)
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import mplhep as hep  # noqa: PLC0415

    rows = sorted(points, key=lambda p: p["mass"])
    mass = [p["mass"] for p in rows]
    exp = list(zip(*(p["expected_converted"] for p in rows), strict=True))
    with plt.style.context(hep.style.ROOT):
        fig, ax = plt.subplots(figsize=(8, 6))
        ax.fill_between(mass, exp[0], exp[4], color="#ffcc00", label=r"Expected $\pm 2\sigma$")
        ax.fill_between(mass, exp[1], exp[3], color="#00cc00", label=r"Expected $\pm 1\sigma$")
        ax.plot(mass, exp[2], "k--", label="Median expected")
        if not blinded:
            obs = [p["observed_converted"] for p in rows]
            ax.plot(mass, obs, "k-", lw=2, label=f"Observed {cl:.0%} CL")
        ax.set_yscale("log")
        ax.set_xlabel("Mass [GeV]")
        ax.set_ylabel(f"{cl:.0%} CL upper limit on {ylabel}")
        ax.set_xlim(min(mass), max(mass) if len(mass) > 1 else min(mass) + 1)
        hep.label.exp_label(
            exp=experiment,
            llabel="Simulation" if blinded else "",
            rlabel=luminosity_label(luminosity_fb),
            com=None,
            ax=ax,
        )
        ax.legend(title=title or None, loc="upper left", fontsize="small")
        paths = []
        stem.parent.mkdir(parents=True, exist_ok=True)
        for suffix in (".png", ".pdf"):
            path = stem.with_suffix(suffix)
            fig.savefig(path, dpi=120 if suffix == ".png" else None, bbox_inches="tight")
            paths.append(path)
        plt.close(fig)
    return paths
