"""The one naming contract between histogram writers and the statistics input.

Every histogram belleflow writes has two category axes in front of its
observables, following the Analysis Grand Challenge:

- ``process``: ``"data"`` for (pseudo-)data, the catalogue's process name
  for background simulation (``"mumu"``, ``"tautau"``, ...), and
  :func:`signal_label` for a signal grid point;
- ``variation``: ``"nominal"`` or ``"<systematic>_up"`` / ``"<systematic>_down"``.

Simulation is filled with the catalogue's per-event normalisation, so
background histograms are expected events at the catalogue's luminosity and
signal histograms are expected events per fb of cross section times
branching fraction. In ROOT files a slice is the ``TH1``
``"<observable>__<process>__<variation>"`` (:func:`root_name`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "DATA",
    "NOMINAL",
    "SignalPoint",
    "parse_root_name",
    "parse_signal_label",
    "root_name",
    "signal_label",
    "variation_name",
]

DATA = "data"
NOMINAL = "nominal"
_SEPARATOR = "__"
_SIGNAL = re.compile(r"^(?P<model>[A-Za-z0-9_]+?)_m(?P<mass>[0-9.e+-]+)_ctau(?P<ctau>[0-9.e+-]+)$")


class SignalPoint(NamedTuple):
    """One point of a signal grid: model, mass in GeV, c*tau in cm."""

    model: str
    mass: float
    ctau: float


def signal_label(model: str, mass: float, ctau: float = 0.0) -> str:
    """The ``process`` label of a signal grid point.

    Examples:
        >>> signal_label("zprime", 1.5)
        'zprime_m1.5_ctau0'
        >>> parse_signal_label("zprime_m1.5_ctau0")
        SignalPoint(model='zprime', mass=1.5, ctau=0.0)
    """
    if _SEPARATOR in model:
        msg = f"signal model name {model!r} must not contain {_SEPARATOR!r}"
        raise ValueError(msg)
    return f"{model}_m{mass:g}_ctau{ctau:g}"


def parse_signal_label(label: str) -> SignalPoint | None:
    """The grid point a ``process`` label stands for, or None for non-signal labels."""
    match = _SIGNAL.match(label)
    if match is None:
        return None
    return SignalPoint(match["model"], float(match["mass"]), float(match["ctau"]))


def variation_name(systematic: str, direction: str) -> str:
    """``"<systematic>_up"`` or ``"<systematic>_down"``.

    Examples:
        >>> variation_name("muon_id", "up")
        'muon_id_up'
    """
    if direction not in {"up", "down"}:
        msg = f"direction must be 'up' or 'down', not {direction!r}"
        raise ValueError(msg)
    return f"{systematic}_{direction}"


def root_name(observable: str, process: str, variation: str = NOMINAL) -> str:
    """Name of the TH1 holding one (observable, process, variation) slice.

    Examples:
        >>> root_name("m_mumu", "mumu", "muon_id_up")
        'm_mumu__mumu__muon_id_up'
    """
    for part in (observable, process, variation):
        if _SEPARATOR in part:
            msg = f"{part!r} must not contain {_SEPARATOR!r}"
            raise ValueError(msg)
    return _SEPARATOR.join((observable, process, variation))


def parse_root_name(name: str) -> tuple[str, str, str]:
    """Split a TH1 name into (observable, process, variation)."""
    parts = name.split(_SEPARATOR)
    if len(parts) != 3:
        msg = f"{name!r} is not '<observable>__<process>__<variation>'"
        raise ValueError(msg)
    return parts[0], parts[1], parts[2]
