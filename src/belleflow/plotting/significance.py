"""The local-significance scan: Z_local against mass, with the global significance.

Only an unblinded scan has one: a blinded scan fits Asimov background-only
data, whose local significance is zero by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from belleflow.limits.model import StatModel
from belleflow.plotting.brazil import scan_segments
from belleflow.plotting.labels import ctau_text, mass_axis_label, signal_title
from belleflow.plotting.style import (
    SIGNAL_COLOURS,
    LabelInfo,
    experiment_label,
    figure_style,
    save_figure,
)

__all__ = ["significance_plot"]


def significance_plot(
    stem: Path,
    points: Sequence[dict[str, Any]],
    model: StatModel,
    info: LabelInfo,
    global_significance: dict[str, Any] | None = None,
) -> list[Path]:
    """Draw Z_local against mass (one curve per lifetime) into PNG and PDF.

    Args:
        stem: Output path without suffix.
        points: ``limits.json`` points (``mass``, ``ctau``, ``z_local``).
        model: The statistical model (vetoed windows, scan step).
        info: The experiment label.
        global_significance: ``limits.json``'s ``global_significance``: the
            largest local excess and its global significance, written on the figure.
    """
    ctaus = sorted({float(p["ctau"]) for p in points})
    with figure_style():
        fig, ax = plt.subplots(figsize=(9, 5.5))
        top = 0.0
        for colour, ctau in zip(SIGNAL_COLOURS * 4, ctaus, strict=False):
            rows = sorted((p for p in points if float(p["ctau"]) == ctau), key=lambda p: p["mass"])
            mass = np.array([float(p["mass"]) for p in rows])
            z = np.array([float(p["z_local"]) for p in rows])
            label = ctau_text(ctau) if len(ctaus) > 1 else r"$Z_{\rm local}$"
            for i, seg in enumerate(scan_segments(list(mass), model)):
                ax.plot(mass[seg], z[seg], color=colour, lw=1.2, label=label if i == 0 else None)
            top = max(top, float(np.nanmax(z, initial=0.0)))
        for z_line in (1, 2, 3):
            ax.axhline(z_line, color="0.6", ls=":", lw=1)
            ax.annotate(
                f"{z_line}$\\sigma$",
                (1.0, z_line),
                xycoords=("axes fraction", "data"),
                xytext=(3, -4),
                textcoords="offset points",
                fontsize="x-small",
            )
        for lo, hi in model.vetoed:
            ax.axvspan(lo, hi, color="0.85", lw=0, zorder=0)
        # Head-room for the legend above the curves.
        ax.set_ylim(0, max(4.5, 2.0 * top))
        ax.set_xlabel(mass_axis_label(model.signal_model))
        ax.set_ylabel(r"Local significance $Z_{\rm local}$")
        text = signal_title(model.signal_model)
        if global_significance and global_significance.get("mass") is not None:
            g = global_significance
            text += (
                f"\nlargest excess {g['z_local']:.2f}$\\sigma$ local at {g['mass']:.4g} GeV, "
                f"{g['z_global']:.2f}$\\sigma$ global"
            )
        ax.legend(
            title=text,
            loc="upper left",
            ncols=min(len(ctaus), 4),
            title_fontsize="small",
            alignment="left",
        )
        experiment_label(ax, info)
        return save_figure(fig, stem)
