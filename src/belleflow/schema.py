"""``Belle2Schema``: the coffea NanoEvents schema of belleflow ntuples.

The flat branches of a file (``nTrack``, ``Track_px``, ...) are grouped into
collections (``events.Track``, ``events.Photon``, ``events.V0``,
``events.MCParticle``) whose records carry the Lorentz-vector behaviour of
the ``vector`` package: ``.mass``, ``+``, ``.boost_p4(...)``, ``.deltaR``.
The lab four-momentum of the e+e- system is ``events.beam``.

Cross references are resolved through global indices computed on the
unfiltered file, so they stay correct after event selection:
``events.V0.daughter0`` / ``daughter1`` (tracks), ``events.Track.mc`` /
``events.Photon.mc`` (matched MC particle, None if unmatched) and
``events.MCParticle.parent``.

With ``mode="virtual"`` (coffea's default) only the branches a processor
touches are read.

The V0 vertex position is exposed as ``vx, vy, vz`` (branches ``V0_x``,
``V0_y``, ``V0_z``) because ``x, y, z`` next to ``px, py, pz`` would be
ambiguous coordinates for ``vector``.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any, ClassVar

import vector
from coffea.nanoevents import transforms
from coffea.nanoevents.methods import base
from coffea.nanoevents.schemas.base import BaseSchema, zip_forms

from belleflow.ntuple.format import COLLECTIONS, branch_name, counter_name

__all__ = ["Belle2Schema"]

_VECTOR_NAME = "Momentum4D"
#: Record names that carry four-momentum behaviour.
_P4_RECORDS = ("Track", "Photon", "V0", "MCParticle", "Beam")
#: collection -> {local index field: target collection}
_CROSS_REFERENCES: dict[str, dict[str, str]] = {
    "V0": {"track0": "Track", "track1": "Track"},
    "Track": {"mcIndex": "MCParticle"},
    "Photon": {"mcIndex": "MCParticle"},
    "MCParticle": {"mother": "MCParticle"},
}
_RENAMED: dict[str, dict[str, str]] = {"V0": {"x": "vx", "y": "vy", "z": "vz"}}
_BEAM_BRANCHES = {"px": "beamPx", "py": "beamPy", "pz": "beamPz", "E": "beamE"}


class _StoredComponents:
    """``px, py, pz, E`` of records that store them, read as fields.

    vector computes every component through its coordinate-system dispatch,
    even one that is a field of the record: about 3 ms per call on a chunk
    against 0.2 ms for the field, and the selections read components
    hundreds of times per chunk. Records in other coordinates (vector's
    ``x, y, z, t`` results) keep vector's computation.
    """

    def _component(self, name: str) -> Any:
        if name in self.fields:  # type: ignore[attr-defined]
            return self[name]  # type: ignore[index]
        return getattr(super(), name)

    @property
    def px(self) -> Any:
        """x component of the momentum."""
        return self._component("px")

    @property
    def py(self) -> Any:
        """y component of the momentum."""
        return self._component("py")

    @property
    def pz(self) -> Any:
        """z component of the momentum."""
        return self._component("pz")

    @property
    def E(self) -> Any:
        """Energy."""
        return self._component("E")


def _behavior() -> dict[Any, Any]:
    """Build the behaviour dict: coffea's NanoEvents base plus vector's."""
    behavior: dict[Any, Any] = {}
    behavior.update(base.behavior)
    behavior.update(vector.backends.awkward.behavior)

    class P4Array(_StoredComponents, vector.backends.awkward.MomentumArray4D, base.NanoCollection):  # type: ignore[misc]
        """An array of four-momentum records of a belleflow collection."""

    class MomentumArray(_StoredComponents, vector.backends.awkward.MomentumArray4D):
        """vector's Momentum4D arrays (sums, boosts, ...), reading stored components as fields."""

    class P4Record(vector.backends.awkward.MomentumRecord4D, base.NanoCollection):  # type: ignore[misc]
        """A four-momentum record of a belleflow collection."""

    class TrackArray(P4Array):
        """Tracks; ``mc`` is the matched MCParticle (None where unmatched)."""

        @property
        def mc(self) -> Any:
            return self._events().MCParticle._apply_global_index(self.mcIndexG)

    class V0Array(P4Array):
        """Displaced two-track vertices with their daughter tracks."""

        @property
        def daughter0(self) -> Any:
            return self._events().Track._apply_global_index(self.track0G)

        @property
        def daughter1(self) -> Any:
            return self._events().Track._apply_global_index(self.track1G)

    class MCParticleArray(P4Array):
        """Generated particles; ``parent`` is the mother (None for primaries)."""

        @property
        def parent(self) -> Any:
            return self._events().MCParticle._apply_global_index(self.motherG)

    arrays = {"Track": TrackArray, "Photon": TrackArray, "V0": V0Array}
    arrays["MCParticle"] = MCParticleArray
    behavior["*", _VECTOR_NAME] = MomentumArray
    for name in _P4_RECORDS:
        behavior[name] = P4Record
        behavior["*", name] = arrays.get(name, P4Array)
    # vector registers its ufuncs (+, -, ==, ...) for its own record names;
    # register every combination of ours and Momentum4D so that, e.g., a
    # Track plus a Photon is a Momentum4D.
    names = (_VECTOR_NAME, *_P4_RECORDS)
    for key, value in list(vector.backends.awkward.behavior.items()):
        if not (isinstance(key, tuple) and _VECTOR_NAME in key):
            continue
        slots = [i for i, k in enumerate(key) if k == _VECTOR_NAME]
        for combo in itertools.product(names, repeat=len(slots)):
            new = list(key)
            for slot, name in zip(slots, combo, strict=True):
                new[slot] = name
            behavior.setdefault(tuple(new), value)
    return behavior


class Belle2Schema(BaseSchema):  # type: ignore[misc]
    """NanoEvents schema for belleflow (basf2 event-based) ntuples.

    Examples:
        >>> from coffea.nanoevents import NanoEventsFactory
        >>> events = NanoEventsFactory.from_root(  # doctest: +SKIP
        ...     {"sample.root": "events"}, schemaclass=Belle2Schema
        ... ).events()
        >>> dimuon = events.Track[:, 0] + events.Track[:, 1]  # doctest: +SKIP
        >>> dimuon.mass  # doctest: +SKIP
    """

    __dask_capable__ = True
    _behavior_cache: ClassVar[dict[Any, Any] | None] = None

    def __init__(self, base_form: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(base_form, *args, **kwargs)
        fields = dict(zip(self._form["fields"], self._form["contents"], strict=True))
        self._form["fields"], self._form["contents"] = self._build(fields)

    @staticmethod
    def _build(branches: dict[str, Any]) -> tuple[list[str], list[Any]]:
        present = [c for c in COLLECTIONS if counter_name(c) in branches]
        offsets = {c: transforms.counts2offsets_form(branches[counter_name(c)]) for c in present}
        output: dict[str, Any] = {}
        grouped: set[str] = set()
        for collection in present:
            prefix = branch_name(collection, "")
            content = {}
            for key, form in branches.items():
                if key.startswith(prefix):
                    grouped.add(key)
                    variable = key[len(prefix) :]
                    content[_RENAMED.get(collection, {}).get(variable, variable)] = form
            for index, target in _CROSS_REFERENCES.get(collection, {}).items():
                if index in content and target in offsets:
                    content[index + "G"] = transforms.local2global_form(
                        content[index], offsets[target]
                    )
            grouped.add(counter_name(collection))
            output[collection] = zip_forms(content, collection, record_name=collection)
        for key, form in branches.items():
            if key not in grouped:
                output[key] = form
        if all(b in branches for b in _BEAM_BRANCHES.values()):
            output["beam"] = {
                "class": "RecordArray",
                "fields": list(_BEAM_BRANCHES),
                "contents": [copy.deepcopy(branches[b]) for b in _BEAM_BRANCHES.values()],
                "parameters": {"__record__": "Beam"},
            }
        return list(output), list(output.values())

    @classmethod
    def behavior(cls) -> dict[Any, Any]:
        """Behaviours of the schema's records (built once per process)."""
        if cls._behavior_cache is None:
            cls._behavior_cache = _behavior()
        return cls._behavior_cache
