"""Writing and reading a channel's histograms.

``DIR/CHANNEL/histograms.json``
    ``{name: histogram}`` in the UHI JSON format (``hist.serialization``):
    lossless (values and variances, flow bins, axis metadata) and not a pickle.
    Read it back with :func:`load_histograms`.
``DIR/CHANNEL/histograms.root``
    One ``TH1D``/``TH2D``/``TH3D`` per (histogram, process, variation), named
    :func:`belleflow.naming.root_name` ``(name, process, variation)``, for
    ROOT and cabinetry users.

The category labels are sorted (:func:`belleflow.processor.finalise_output`),
so the files do not depend on the order in which chunks were merged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hist
import uproot

from belleflow.engine.checkpoint import json_default, json_object_hook
from belleflow.naming import root_name

__all__ = ["load_histograms", "write_histograms_json", "write_histograms_root"]


def write_histograms_json(
    histograms: Mapping[str, hist.Hist[Any]], path: str | os.PathLike[str]
) -> Path:
    """Write ``{name: Hist}`` as UHI JSON (atomically)."""
    target = Path(path)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dict(histograms), default=json_default), encoding="utf-8")
    tmp.replace(target)
    return target


def load_histograms(path: str | os.PathLike[str]) -> dict[str, hist.Hist[Any]]:
    """Read a ``histograms.json`` written by belleflow.

    Args:
        path: The file, or the channel folder that holds it.

    Returns:
        Histograms by name.
    """
    target = Path(path)
    if target.is_dir():
        target = target / "histograms.json"
    data = json.loads(target.read_text(encoding="utf-8"), object_hook=json_object_hook)
    if not isinstance(data, dict) or not all(isinstance(h, hist.Hist) for h in data.values()):
        msg = f"{target}: not a belleflow histograms.json (expected name -> UHI histogram)"
        raise ValueError(msg)
    return data


def write_histograms_root(
    histograms: Mapping[str, hist.Hist[Any]], path: str | os.PathLike[str]
) -> Path:
    """Write every (histogram, process, variation) slice as a ROOT histogram.

    Histograms with more than three observable axes are not representable
    in ROOT and are left out.
    """
    target = Path(path)
    tmp = target.with_suffix(".root.tmp")
    with uproot.recreate(tmp) as file:
        for name, h in histograms.items():
            if h.ndim - 2 > 3 or h.ndim <= 2:
                continue
            for process in h.axes["process"]:
                for variation in h.axes["variation"]:
                    file[root_name(name, process, variation)] = h[
                        {"process": process, "variation": variation}
                    ]
    tmp.replace(target)
    return target
