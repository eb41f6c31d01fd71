"""The look of belleflow's figures: style, colours, experiment label, saving.

mplhep ships no Belle II style (adding one needs the collaboration's
approval), so figures use mplhep's ROOT style with the experiment written
by :func:`experiment_label`: "Belle II" or "Belle" in bold, what the figure
is ("Simulation", or "(own work)" for figures with data: belleflow's
figures are not collaboration-approved) and, on the right, the luminosity
and centre-of-mass energy. Every figure is written as PNG and PDF.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl

# Figures are files: never open a window (and work without a display).
mpl.use("Agg")

import matplotlib.pyplot as plt
import mplhep as hep

from belleflow.plotting.labels import ecms_label, luminosity_label

__all__ = ["PALETTE", "LabelInfo", "experiment_label", "figure_style", "save_figure"]

#: Ten colours distinguishable with the common colour-vision deficiencies
#: (M. Petroff, arXiv:2107.02270), for the stacked backgrounds.
PALETTE = (
    "#3f90da",
    "#ffa90e",
    "#bd1f01",
    "#94a4a2",
    "#832db6",
    "#a96b59",
    "#e76300",
    "#b9ac70",
    "#717581",
    "#92dadd",
)
#: Signal overlays: dark colours that stand out against the filled stack.
SIGNAL_COLOURS = ("#d62728", "#2ca02c", "#1f1f9f", "#ff00cc", "#000000")
#: The expected-limit bands of a Brazil plot.
BAND_1SIGMA = "#00cc00"
BAND_2SIGMA = "#ffcc00"


@dataclass(frozen=True)
class LabelInfo:
    """What the experiment label says: experiment, luminosity, energies, status."""

    experiment: str = ""
    luminosity_fb: float | None = None
    ecms: tuple[float, ...] = ()
    status: str = "Simulation"

    def right(self) -> str:
        """The right-hand text: ``"10.7 pb$^{-1}$ (10.58 GeV)"``, as LHC figures write it."""
        lumi = luminosity_label(self.luminosity_fb)
        energy = ecms_label(list(self.ecms))
        if lumi and energy:
            return f"{lumi} ({energy.split(' = ', 1)[1]})"
        return lumi or energy


@contextlib.contextmanager
def figure_style() -> Iterator[None]:
    """mplhep's ROOT style with smaller legends (figures carry many entries)."""
    with (
        plt.style.context(hep.style.ROOT),
        mpl.rc_context(
            {"legend.fontsize": "small", "legend.frameon": False, "savefig.bbox": "tight"}
        ),
    ):
        yield


def experiment_label(ax: Any, info: LabelInfo) -> None:
    """Write the experiment label above ``ax`` (nothing for an unknown experiment)."""
    hep.label.exp_label(
        exp=info.experiment or "belleflow",
        llabel=info.status,
        rlabel=info.right(),
        com=None,
        ax=ax,
        fontsize=17,
    )


def save_figure(fig: Any, stem: Path, *, dpi: int = 110) -> list[Path]:
    """Write ``<stem>.png`` and ``<stem>.pdf``, close the figure, return both paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix in (".png", ".pdf"):
        path = stem.parent / (stem.name + suffix)
        fig.savefig(path, dpi=dpi if suffix == ".png" else None)
        paths.append(path)
    plt.close(fig)
    return paths
