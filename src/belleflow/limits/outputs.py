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

__all__ = ["OBSERVED_KEYS", "brazil_plot", "luminosity_label", "write_csv", "write_json"]

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
