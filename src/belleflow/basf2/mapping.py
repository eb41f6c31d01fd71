"""Which basf2 variables make which belleflow branches (``docs/catalogue.md``).

Each belleflow collection is filled from one basf2 particle list (one tree).
Most variables are copied under the same name; the rest are derived so that
the content means exactly what ``docs/ntuple-format.md`` says:

* ``Track.E`` is the energy under the charged-pion hypothesis,
  ``sqrt(p^2 + m_pi^2)`` from ``px, py, pz`` (basf2's ``E`` uses the mass of
  the list's particle type, which depends on the list).
* ``Track.clusterE`` is 0 for a track without a matched cluster (basf2: NaN).
* ``V0.E`` sums the daughters' energies under the pion hypothesis from
  ``daughter(0, p)`` and ``daughter(1, p)``; ``V0.track0``/``track1`` are the
  positions in ``Track`` of the tracks whose ``mdstIndex`` equals
  ``daughter(0, mdstIndex)``/``daughter(1, mdstIndex)`` (-1 if not in the list).
* ``Track.mcIndex``/``Photon.mcIndex`` are the positions in ``MCParticle`` of
  the generated particle with the same ``genParticleID``, and
  ``MCParticle.mother`` the position of the one whose ``genParticleID`` is
  the particle's ``genMotherID`` (-1 if not in the list, unmatched or primary).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt
from particle import Particle

from belleflow.ntuple import COLLECTIONS

__all__ = [
    "COPIED",
    "DERIVED",
    "MappingError",
    "build_collection",
    "identifiers",
    "required_variables",
]

Int64Array = npt.NDArray[np.int64]

#: belleflow variable <- basf2 variable, copied (cast to the format's type).
COPIED: dict[str, dict[str, str]] = {
    "Track": {
        **{v: v for v in ("px", "py", "pz", "charge", "dr", "dz", "nCDCHits", "clusterE")},
        **{v: v for v in ("muonID", "electronID", "pionID", "kaonID", "protonID")},
    },
    "Photon": {v: v for v in ("px", "py", "pz", "E", "clusterE9E21")},
    "V0": {v: v for v in ("x", "y", "z", "px", "py", "pz", "chiProb")},
    "MCParticle": {
        **{v: v for v in ("PDG", "px", "py", "pz", "E")},
        "prodVertexX": "mcProdVertexX",
        "prodVertexY": "mcProdVertexY",
        "prodVertexZ": "mcProdVertexZ",
    },
}
#: belleflow variable <- the basf2 variables it is computed from.
DERIVED: dict[str, dict[str, tuple[str, ...]]] = {
    "Track": {"E": ("px", "py", "pz"), "mcIndex": ("genParticleID",)},
    "Photon": {"mcIndex": ("genParticleID",)},
    "V0": {
        "E": ("daughter(0, p)", "daughter(1, p)"),
        "track0": ("daughter(0, mdstIndex)",),
        "track1": ("daughter(1, mdstIndex)",),
    },
    "MCParticle": {"mother": ("genMotherID", "genParticleID")},
}
# Identifiers the cross references are matched on, in the target collections.
_TRACK_ID = "mdstIndex"
_MC_ID = "genParticleID"
_PION_MASS = float(Particle.from_pdgid(211).mass or 0.0) / 1000.0


class MappingError(ValueError):
    """A list's values cannot become the collection (the caller names file and tree)."""


def required_variables(collection: str, *, simulation: bool, with_v0: bool) -> list[str]:
    """The basf2 variables the list of a collection must have.

    Args:
        collection: ``Track``, ``Photon``, ``V0`` or ``MCParticle``.
        simulation: MC truth is written (``mcIndex``).
        with_v0: A V0 list is imported (tracks need ``mdstIndex``).

    Examples:
        >>> required_variables("V0", simulation=False, with_v0=True)[-4:]
        ['daughter(0, p)', 'daughter(1, p)', 'daughter(0, mdstIndex)', 'daughter(1, mdstIndex)']
    """
    needed = list(COPIED[collection].values())
    for variable, inputs in DERIVED[collection].items():
        if variable == "mcIndex" and not simulation:
            continue
        needed += inputs
    if collection == "Track" and with_v0:
        needed.append(_TRACK_ID)
    return list(dict.fromkeys(needed))


def _integers(name: str, values: Any, dtype: str) -> Any:
    values = np.asarray(values)
    if values.dtype.kind == "f" and not np.all(np.isfinite(values) & (values == np.round(values))):
        bad = values[~(np.isfinite(values) & (values == np.round(values)))][0]
        msg = f"variable {name!r} must hold integers for the format's {dtype}, has {bad}"
        raise MappingError(msg)
    return values.astype(dtype)


def identifiers(values: Any) -> Int64Array:
    """Index-like values as int64, -1 where basf2 has none (NaN or negative)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.full(len(values), -1, dtype=np.int64)
    valid = np.isfinite(values) & (values >= 0)
    out[valid] = values[valid]
    return out


def _positions(
    query: Int64Array, query_counts: Int64Array, target: Int64Array, target_counts: Int64Array
) -> Int64Array:
    """Per query, the position in its event's targets of the equal identifier, or -1.

    Raises:
        MappingError: An identifier appears twice among one event's targets.
    """
    if len(target) == 0:
        return np.full(len(query), -1, dtype=np.int64)
    n = len(query_counts)
    target_event = np.repeat(np.arange(n, dtype=np.int64), target_counts)
    query_event = np.repeat(np.arange(n, dtype=np.int64), query_counts)
    scale = int(max(target.max(initial=0), query.max(initial=0))) + 1
    target_key = target_event * scale + target
    order = np.argsort(target_key, kind="stable")
    sorted_key = target_key[order]
    if np.any(np.diff(sorted_key) == 0):
        duplicate = int(sorted_key[np.flatnonzero(np.diff(sorted_key) == 0)[0]] % scale)
        msg = f"identifier {duplicate} appears twice among one event's candidates"
        raise MappingError(msg)
    query_key = query_event * scale + query
    slot = np.minimum(np.searchsorted(sorted_key, query_key), len(sorted_key) - 1)
    found = (query >= 0) & (sorted_key[slot] == query_key)
    offsets = np.concatenate([[0], np.cumsum(target_counts)])
    return np.where(found, order[slot] - offsets[query_event], -1).astype(np.int64)


def build_collection(
    collection: str,
    counts: Int64Array,
    values: dict[str, Any],
    *,
    simulation: bool,
    tracks: tuple[Int64Array, Int64Array],
    mc: tuple[Int64Array, Int64Array],
) -> ak.Array:
    """One collection for a range of events, in the format's types.

    Args:
        collection: The belleflow collection.
        counts: Candidates per event.
        values: Flat basf2 values by variable (:func:`required_variables`).
        simulation: Write ``mcIndex``.
        tracks: (``mdstIndex`` of the tracks (:func:`identifiers`), tracks per
            event), for the V0 daughters.
        mc: (``genParticleID`` of the generated particles, particles per
            event), for the truth indices.

    Raises:
        MappingError: Values that do not fit the format (non-integer charge...).
    """
    spec = {b.name: b for b in COLLECTIONS[collection]}
    columns: dict[str, Any] = {}
    for variable, source in COPIED[collection].items():
        dtype = spec[variable].dtype
        column = values[source]
        if dtype.startswith("int"):
            column = _integers(source, column, dtype)
        columns[variable] = np.asarray(column, dtype=dtype)
    if collection == "Track":
        columns["clusterE"] = np.nan_to_num(columns["clusterE"], nan=0.0)
        p2 = values["px"] ** 2 + values["py"] ** 2 + values["pz"] ** 2
        columns["E"] = np.sqrt(p2 + _PION_MASS**2)
    if collection == "V0":
        p0, p1 = values["daughter(0, p)"], values["daughter(1, p)"]
        columns["E"] = np.sqrt(p0**2 + _PION_MASS**2) + np.sqrt(p1**2 + _PION_MASS**2)
        for i in (0, 1):
            query = identifiers(values[f"daughter({i}, mdstIndex)"])
            columns[f"track{i}"] = _positions(query, counts, *tracks)
    if collection == "MCParticle":
        own = identifiers(values[_MC_ID])
        mother = identifiers(values["genMotherID"])
        columns["mother"] = _positions(mother, counts, own, counts)
    if collection in ("Track", "Photon") and simulation:
        columns["mcIndex"] = _positions(identifiers(values[_MC_ID]), counts, *mc)
    ordered = {b.name: columns[b.name] for b in COLLECTIONS[collection] if b.name in columns}
    return ak.zip({k: ak.unflatten(v, counts) for k, v in ordered.items()}, depth_limit=2)
