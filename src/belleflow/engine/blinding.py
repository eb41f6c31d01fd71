"""Blinding on the run side: the data cutflow stops before the signal region.

While a run is blinded (no ``--unblind REASON``), the processors keep data
out of the signal windows of the histograms (:class:`belleflow.processor.ChunkContext`),
and the engine cuts the data cutflow before the cut that defines the signal
region (:attr:`belleflow.processor.Channel.signal_region_cut`; None: the last
cut), in the finalised output, so that ``report.json``, the
:class:`~belleflow.engine.runner.ChannelResult` and the console all get the
truncated one, and in every stored chunk. Unblinding needs a reason, which
the report keeps.

Example:
    >>> cutflow = {"all": [10.0, 10.0], "two_muons": [4.0, 4.0], "window": [1.0, 1.0]}
    >>> list(truncate_cutflow(cutflow, None))
    ['all', 'two_muons']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np

from belleflow.processor import Channel

__all__ = [
    "blind_chunk",
    "blind_cutflows",
    "blinding_record",
    "check_unblind_reason",
    "truncate_cutflow",
]

V = TypeVar("V")


def check_unblind_reason(reason: str | None) -> str | None:
    """The stripped reason, or None for a blinded run.

    Raises:
        ValueError: An empty reason (``--unblind ""``): unblinding must say why.
    """
    if reason is None:
        return None
    if not reason.strip():
        msg = 'unblinding needs a reason: --unblind "approved by ... on ..."'
        raise ValueError(msg)
    return reason.strip()


def truncate_cutflow(cutflow: Mapping[str, V], signal_region_cut: str | None) -> dict[str, V]:
    """The cuts strictly before the signal-region cut (None: the last cut).

    Raises:
        ValueError: The named cut is not in the cutflow.
    """
    names = list(cutflow)
    if signal_region_cut is None:
        keep = names[:-1] if len(names) > 1 else names
    elif signal_region_cut in cutflow:
        keep = names[: names.index(signal_region_cut)]
    else:
        msg = f"signal_region_cut {signal_region_cut!r} is not a cut of the cutflow {names}"
        raise ValueError(msg)
    return {name: cutflow[name] for name in keep}


def blind_cutflows(
    cutflows: Mapping[str, Mapping[str, V]], data_samples: set[str], signal_region_cut: str | None
) -> dict[str, dict[str, V]]:
    """Every data sample's cutflow truncated (:func:`truncate_cutflow`), the others kept."""
    return {
        sample: truncate_cutflow(cuts, signal_region_cut) if sample in data_samples else dict(cuts)
        for sample, cuts in cutflows.items()
    }


def blinding_record(channel: Channel, reason: str | None) -> dict[str, Any]:
    """What ``report.json`` says about blinding."""
    return {
        "blinded": reason is None,
        "unblind_reason": reason,
        "signal_region_cut": channel.signal_region_cut or "(the last cut)",
        "data_cutflow": "stops before the signal-region cut" if reason is None else "complete",
    }


def blind_chunk(output: dict[str, Any], signal_region_cut: str | None) -> dict[str, Any]:
    """A stored chunk of data with its counts from the signal-region cut on made NaN.

    Chunks are stored (checkpoints) before merging: the cut names and their
    order stay, so that merged cutflows truncate the same way, but no count
    of data in the signal region reaches the disk.
    """
    out = output.get("out")
    if not isinstance(out, dict) or not isinstance(out.get("cutflow"), dict):
        return output
    blinded = {}
    for sample, cuts in out["cutflow"].items():
        kept = truncate_cutflow(cuts, signal_region_cut)
        blinded[sample] = {
            cut: value if cut in kept else np.full(np.shape(value), np.nan)
            for cut, value in cuts.items()
        }
    return {**output, "out": {**out, "cutflow": blinded}}
