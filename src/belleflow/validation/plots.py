"""Validation plots (mplhep ROOT style): pulls, Z scans, coverage."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import norm  # type: ignore[import-untyped]

from belleflow.validation.checks import NOMINAL_COVERAGE

__all__ = ["coverage_plot", "pull_plot", "z_scan_plot"]


def _pyplot() -> tuple[Any, Any]:
    import matplotlib as mpl  # noqa: PLC0415 - plotting only when asked

    mpl.use("Agg", force=False)
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import mplhep as hep  # noqa: PLC0415

    return plt, hep


def _save(fig: Any, stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix in (".png", ".pdf"):
        path = stem.with_suffix(suffix)
        fig.savefig(path, dpi=120 if suffix == ".png" else None, bbox_inches="tight")
        paths.append(path)
    return paths


def pull_plot(stem: Path, pulls: npt.NDArray[np.float64], title: str) -> list[Path]:
    """Histogram of the pulls with the standard normal and a Gaussian of their mean and width."""
    plt, hep = _pyplot()
    with plt.style.context(hep.style.ROOT):
        fig, ax = plt.subplots(figsize=(8, 6))
        edges = np.linspace(-5.0, 5.0, 41)
        counts, _ = np.histogram(np.clip(pulls, -4.999, 4.999), edges)
        hep.histplot(
            counts, edges, ax=ax, histtype="errorbar", yerr=True, label="toys", color="black"
        )
        x = np.linspace(-5.0, 5.0, 400)
        scale = pulls.size * (edges[1] - edges[0])
        mean, width = float(pulls.mean()), float(pulls.std(ddof=1))
        ax.plot(x, scale * norm.pdf(x), "b--", label="N(0, 1)")
        ax.plot(x, scale * norm.pdf(x, mean, width), "r-", label=f"N({mean:+.2f}, {width:.2f})")
        ax.set_xlabel(r"pull $(\hat\mu - \mu_{inj}) / \sigma_{\hat\mu}$")
        ax.set_ylabel("toys")
        ax.legend(title=title, fontsize="small")
        paths = _save(fig, stem)
        plt.close(fig)
    return paths


def z_scan_plot(
    stem: Path,
    curves: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    injected: Sequence[float],
    title: str,
) -> list[Path]:
    """Local Z against mass for each curve ``(label, masses, z)``; injected masses marked."""
    plt, hep = _pyplot()
    with plt.style.context(hep.style.ROOT):
        fig, ax = plt.subplots(figsize=(8, 6))
        for label, masses, z in curves:
            order = np.argsort(masses)
            ax.plot(np.asarray(masses)[order], np.asarray(z)[order], lw=1, label=label)
        for i, mass in enumerate(injected):
            ax.axvline(mass, color="red", ls=":", label="injected mass" if i == 0 else None)
        ax.axhline(5.0, color="grey", ls="--", lw=1)
        ax.set_xlabel("Mass [GeV]")
        ax.set_ylabel("local Z")
        ax.legend(title=title, fontsize="small")
        paths = _save(fig, stem)
        plt.close(fig)
    return paths


def coverage_plot(stem: Path, coverage: dict[str, tuple[float, float]], title: str) -> list[Path]:
    """Bars of the +-1 and +-2 sigma coverage per group, with the nominal rates."""
    plt, hep = _pyplot()
    with plt.style.context(hep.style.ROOT):
        fig, ax = plt.subplots(figsize=(8, 6))
        labels = list(coverage)
        x = np.arange(len(labels))
        for k, (offset, colour) in enumerate(((-0.2, "#00cc00"), (0.2, "#ffcc00"))):
            values = [coverage[label][k] for label in labels]
            ax.bar(x + offset, values, width=0.4, color=colour, label=rf"$\pm{k + 1}\sigma$")
            ax.axhline(NOMINAL_COVERAGE[k], color="black", ls="--", lw=1)
        ax.set_xticks(x, labels)
        ax.set_ylim(0.0, 1.15)
        ax.set_ylabel("fraction of toys inside the band")
        ax.legend(title=title, fontsize="small", loc="upper right", ncols=2)
        paths = _save(fig, stem)
        plt.close(fig)
    return paths
