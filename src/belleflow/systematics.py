"""Systematic variations, declared once per channel (``Channel.systematics``).

Two kinds of variation fill the ``variation`` axis of a channel's histograms
(labels ``"<systematic>_up"`` / ``"<systematic>_down"``,
:func:`belleflow.naming.variation_name`), for simulation only:

* *Weight variations* (:class:`WeightVariation`) change only the weight of
  the selected events or candidates: the particle-identification efficiency
  per identified track (:func:`pid`), the tracking efficiency per track
  (:func:`tracking`), a per-object efficiency (:func:`efficiency`).
* *Shifts* (:class:`Shift`) change a collection, and the framework evaluates
  the selection on the shifted one (in one pass with the nominal): the
  track-momentum scale (:data:`MOMENTUM_SCALE`) and the photon-energy scale
  (:data:`PHOTON_ENERGY_SCALE`)::

      systematics=(
          systematics.pid("legs", identified="muons"),
          systematics.tracking(4),
          systematics.MOMENTUM_SCALE,
      )

The sizes are in :data:`DEFAULTS` (one place; ESTIMATEs documented there),
and each declaration takes its own sizes too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from belleflow.naming import variation_name

__all__ = [
    "DEFAULTS",
    "MOMENTUM_SCALE",
    "PHOTON_ENERGY_SCALE",
    "Shift",
    "Systematic",
    "SystematicSizes",
    "WeightVariation",
    "efficiency",
    "pid",
    "pid_weights",
    "scale_energy",
    "scale_momenta",
    "tracking",
    "tracking_weights",
]


@dataclass(frozen=True)
class SystematicSizes:
    """Relative sizes of the standard systematic variations.

    Attributes:
        pid_high_p: Relative PID-efficiency uncertainty per identified track
            above ``pid_split_momentum`` (ESTIMATE: 1 %, the size of the Belle II
            lepton-ID correction uncertainties from J/psi and e+e- -> l+l- gamma
            control samples).
        pid_low_p: The same below ``pid_split_momentum`` (ESTIMATE: 3 %, muon ID
            below 1 GeV relies on few KLM layers and is less well calibrated).
        pid_split_momentum: Lab momentum (GeV) separating the two (1 GeV, as the
            detector model's PID tables).
        tracking: Relative tracking-efficiency uncertainty per track
            (ESTIMATE: 0.3 %, Belle II's e+e- -> tau+tau- 3x1-prong measurement
            of Run 1).
        momentum_scale: Relative track-momentum scale uncertainty
            (ESTIMATE: 5e-4, the order of the Belle II momentum-scale
            correction uncertainty from D0 and K_S mass peaks).
        photon_energy_scale: Relative photon-energy scale uncertainty
            (ESTIMATE: 0.5 %, ECL calibration with e+e- -> gamma gamma and pi0).
    """

    pid_high_p: float = 0.01
    pid_low_p: float = 0.03
    pid_split_momentum: float = 1.0
    tracking: float = 0.003
    momentum_scale: float = 5e-4
    photon_energy_scale: float = 0.005


#: The sizes every channel uses unless it says otherwise.
DEFAULTS = SystematicSizes()

_DIRECTIONS = (("up", 1.0), ("down", -1.0))


def _momentum(tracks: Any) -> Any:
    return np.sqrt(tracks.px * tracks.px + tracks.py * tracks.py + tracks.pz * tracks.pz)


def pid_weights(
    tracks: Any,
    *,
    identified: Any | None = None,
    sizes: SystematicSizes = DEFAULTS,
    name: str = "pid",
) -> dict[str, Any]:
    """Per-event weights for the PID-efficiency variation.

    Each identified track contributes a factor ``1 +- delta(p)``; the event
    weight is the product over its identified tracks.

    Args:
        tracks: The tracks whose identification the selection requires (jagged).
        identified: Optional jagged mask selecting among ``tracks`` those that
            are actually identified (e.g. the >= 3 of 4 muon candidates).
        sizes: Uncertainty sizes.
        name: Systematic name (``"pid"``, or e.g. ``"muon_id"``).

    Returns:
        ``{"<name>_up": w, "<name>_down": w}``, per-event arrays.
    """
    delta = ak.where(
        _momentum(tracks) > sizes.pid_split_momentum, sizes.pid_high_p, sizes.pid_low_p
    )
    if identified is not None:
        delta = ak.where(identified, delta, 0.0)
    return {
        variation_name(name, direction): ak.prod(1.0 + sign * delta, axis=-1)
        for direction, sign in _DIRECTIONS
    }


def tracking_weights(
    n_tracks: Any, *, sizes: SystematicSizes = DEFAULTS, name: str = "tracking"
) -> dict[str, Any]:
    """Per-event weights ``(1 +- delta)^n`` for the tracking-efficiency variation.

    Args:
        n_tracks: Number of tracks in the candidate: per-event array, a
            number, or a jagged track collection (counted).
        sizes: Uncertainty sizes.
        name: Systematic name.

    Returns:
        ``{"<name>_up": w, "<name>_down": w}``.
    """
    if isinstance(n_tracks, ak.Array) and n_tracks.ndim > 1:
        n_tracks = ak.num(n_tracks, axis=-1)
    return {
        variation_name(name, direction): (1.0 + sign * sizes.tracking) ** n_tracks
        for direction, sign in _DIRECTIONS
    }


def scale_momenta(tracks: Any, factor: float) -> Any:
    """Tracks with their momenta multiplied by ``factor``, energies recomputed at fixed mass.

    All other fields (charge, PID, impact parameters...) are kept, so the
    result goes through the same selection as the nominal tracks.
    """
    mass2 = tracks.E * tracks.E - (tracks.px**2 + tracks.py**2 + tracks.pz**2)
    px, py, pz = tracks.px * factor, tracks.py * factor, tracks.pz * factor
    energy = np.sqrt(np.maximum(mass2, 0.0) + px * px + py * py + pz * pz)
    return ak.with_field(
        ak.with_field(ak.with_field(ak.with_field(tracks, px, "px"), py, "py"), pz, "pz"),
        energy,
        "E",
    )


def scale_energy(photons: Any, factor: float) -> Any:
    """Photons with four-momenta multiplied by ``factor`` (massless: energy scale)."""
    out = photons
    for field in ("px", "py", "pz", "E"):
        out = ak.with_field(out, photons[field] * factor, field)
    return out


# Declarations: a channel lists its systematics once (``Channel.systematics``);
# the framework computes the weight variations on the selected events, evaluates
# the selection under each shift, never for data, and the statistical models
# take their list of systematics from the same declaration.


@dataclass(frozen=True)
class WeightVariation:
    """A systematic that changes only the weight of the selected events or candidates.

    Attributes:
        name: Systematic name (``<name>_up`` / ``<name>_down`` in the histograms).
        weights: ``(columns, n) -> {variation: factor}``: from the selection's
            columns of the ``n`` selected events (per-candidate columns
            restricted to the selected candidates), the factor of each
            variation, per event or per candidate.
    """

    name: str
    weights: Callable[[Mapping[str, Any], int], dict[str, Any]]


@dataclass(frozen=True)
class Shift:
    """A systematic that changes a collection: the selection is evaluated on the shifted one.

    Attributes:
        name: Systematic name.
        collection: The shifted collection (``"Track"``, ``"Photon"``).
        apply: ``(collection, factor) -> shifted collection``.
        size: Relative size: the factors are ``1 + size`` and ``1 - size``.
    """

    name: str
    collection: str
    apply: Callable[[Any, float], Any]
    size: float

    def variations(self) -> Iterator[tuple[str, float]]:
        """``(variation, factor)`` of the up and down shifts."""
        for direction, sign in _DIRECTIONS:
            yield variation_name(self.name, direction), 1.0 + sign * self.size


#: A declared systematic.
Systematic = WeightVariation | Shift

#: The track-momentum scale (:func:`scale_momenta` on ``Track``).
MOMENTUM_SCALE = Shift("momentum_scale", "Track", scale_momenta, DEFAULTS.momentum_scale)
#: The photon-energy scale (:func:`scale_energy` on ``Photon``).
PHOTON_ENERGY_SCALE = Shift(
    "photon_energy_scale", "Photon", scale_energy, DEFAULTS.photon_energy_scale
)


def pid(
    tracks: str, *, identified: str | None = None, sizes: SystematicSizes = DEFAULTS
) -> WeightVariation:
    """The PID-efficiency variation of the tracks in column ``tracks`` (see :func:`pid_weights`).

    Args:
        tracks: Column of the tracks whose identification the selection
            requires (jagged per event, or per candidate).
        identified: Optional column of the mask of those actually identified.
        sizes: Uncertainty sizes.
    """
    # functools.partial of module functions: declarations pickle (Dask, process pools).
    return WeightVariation(
        "pid", functools.partial(_pid_of, tracks=tracks, identified=identified, sizes=sizes)
    )


def _pid_of(
    columns: Mapping[str, Any],
    n: int,
    *,
    tracks: str,
    identified: str | None,
    sizes: SystematicSizes,
) -> dict[str, Any]:
    del n
    mask = None if identified is None else columns[identified]
    return pid_weights(columns[tracks], identified=mask, sizes=sizes)


def tracking(tracks: str | int, *, sizes: SystematicSizes = DEFAULTS) -> WeightVariation:
    """The tracking-efficiency variation: a fixed number of tracks, or those of a column."""
    return WeightVariation("tracking", functools.partial(_tracking_of, tracks=tracks, sizes=sizes))


def _tracking_of(
    columns: Mapping[str, Any], n: int, *, tracks: str | int, sizes: SystematicSizes
) -> dict[str, Any]:
    count = np.full(n, tracks) if isinstance(tracks, int) else columns[tracks]
    return tracking_weights(count, sizes=sizes)


def efficiency(name: str, size: float, objects: int) -> WeightVariation:
    """A per-object efficiency uncertainty: factors ``(1 +- size)^objects`` per event.

    Example:
        >>> photons = efficiency("photon_efficiency", 0.01, 3)
        >>> sorted(photons.weights({}, 2))
        ['photon_efficiency_down', 'photon_efficiency_up']
    """
    return WeightVariation(
        name, functools.partial(_efficiency_of, name=name, size=size, objects=objects)
    )


def _efficiency_of(
    columns: Mapping[str, Any], n: int, *, name: str, size: float, objects: int
) -> dict[str, Any]:
    del columns
    return {
        variation_name(name, direction): np.full(n, (1.0 + sign * size) ** objects)
        for direction, sign in _DIRECTIONS
    }
