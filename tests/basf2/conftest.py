"""basf2-style ntuples written with uproot, as basf2's modules lay them out.

``write_basf2`` turns belleflow events (the content the import must give
back) into what a steering file with one list per collection writes:

- ``VariablesToEventBasedTree`` (layout ``event``): one tree per list, one
  entry per event, candidate arrays ``name[__ncandidates__]`` (doubles),
  event variables as scalars, ``__weight__`` a float;
- ``VariablesToNtuple`` (layout ``candidate``): one row per candidate with
  ``__candidate__`` and ``__ncandidates__``, no row for an event without
  candidates, plus (``event_tree``) a list-less tree with one row per event.

Branch names are basf2's mangled ones (``daughter__bo0__cm__spp__bc``);
identifiers are deliberately not positions (``mdstIndex = 3 i + 7``,
``genParticleID = 2 i + 5``) so the import must really match them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from belleflow.basf2 import make_root_compatible
from belleflow.ntuple import COLLECTIONS, EVENT_BRANCHES

WriteBasf2 = Callable[..., Path]

#: Tree of each collection in the fixture files.
TREES = {"Track": "muons", "Photon": "gammas", "V0": "kshorts", "MCParticle": "mcparticles"}
MUON_MASS = 0.1056583755  # GeV, PDG
PID = ("muonID", "electronID", "pionID", "kaonID", "protonID")


def read_belleflow(path: Path) -> dict[str, Any]:
    """A belleflow file as event branches and collections (jagged records)."""
    arrays = uproot.open(path)["events"].arrays()
    content: dict[str, Any] = {b.name: ak.to_numpy(arrays[b.name]) for b in EVENT_BRANCHES}
    for collection, spec in COLLECTIONS.items():
        names = [
            f"{collection}_{b.name}" for b in spec if f"{collection}_{b.name}" in arrays.fields
        ]
        if names:
            content[collection] = ak.zip(
                {n.removeprefix(f"{collection}_"): arrays[n] for n in names}, depth_limit=2
            )
    return content


def _lookup(ids: ak.Array, index: ak.Array, missing: float) -> ak.Array:
    """ids[index] per event, ``missing`` where index is -1."""
    safe = ak.where(index >= 0, index, 0)
    padded = ak.pad_none(ids, 1, axis=1)
    return ak.fill_none(ak.where(index >= 0, padded[safe], missing), missing)


def basf2_lists(events: dict[str, Any], *, simulation: bool) -> dict[str, dict[str, ak.Array]]:
    """Per tree, the candidate variables basf2 would write (jagged, by variable name)."""
    track, photon, v0 = events["Track"], events["Photon"], events["V0"]
    p = np.sqrt(track.px**2 + track.py**2 + track.pz**2)
    mdst = 3 * ak.local_index(track.px) + 7
    muons: dict[str, ak.Array] = {
        v: track[v] for v in ("px", "py", "pz", "charge", "dr", "dz", "nCDCHits", *PID)
    }
    muons["E"] = np.sqrt(p**2 + MUON_MASS**2)  # the muon list's hypothesis
    muons["clusterE"] = ak.where(track.clusterE == 0, np.nan, track.clusterE)
    muons["mdstIndex"] = mdst
    muons["useCMSFrame(p)"] = 0.9 * p  # a variable the format has no branch for
    gammas = {v: photon[v] for v in ("px", "py", "pz", "E", "clusterE9E21")}
    kshorts = {v: v0[v] for v in ("x", "y", "z", "px", "py", "pz", "chiProb")}
    for i in (0, 1):
        daughter = v0[f"track{i}"]
        kshorts[f"daughter({i}, p)"] = _lookup(p, daughter, 0.25)
        kshorts[f"daughter({i}, mdstIndex)"] = _lookup(mdst, daughter, 999.0)
    kshorts["M"] = np.sqrt(np.maximum(v0.E**2 - v0.px**2 - v0.py**2 - v0.pz**2, 0))
    lists = {"muons": muons, "gammas": gammas, "kshorts": kshorts}
    if simulation:
        mc = events["MCParticle"]
        gen_id = 2 * ak.local_index(mc.PDG) + 5
        lists["mcparticles"] = {
            "PDG": mc.PDG,
            **{v: mc[v] for v in ("px", "py", "pz", "E")},
            **{f"mcProdVertex{a}": mc[f"prodVertex{a}"] for a in "XYZ"},
            "genParticleID": gen_id,
            "genMotherID": _lookup(gen_id, mc.mother, -1.0),
        }
        muons["genParticleID"] = _lookup(gen_id, track.mcIndex, np.nan)
        gammas["genParticleID"] = _lookup(gen_id, photon.mcIndex, np.nan)
    return lists


def _bookkeeping(events: dict[str, Any]) -> dict[str, np.ndarray]:
    return {
        "__experiment__": np.asarray(events["__experiment__"], np.int32),
        "__run__": np.asarray(events["__run__"], np.int32),
        "__event__": np.asarray(events["__event__"], np.uint32),
        "__production__": np.asarray(events["__production__"], np.int32),
    }


def _event_variables(events: dict[str, Any], *, beam: bool) -> dict[str, np.ndarray]:
    """The steering file's event variables: generator weight and (optionally) beam."""
    names = ("Ecms", "beamE", "beamPx", "beamPy", "beamPz") if beam else ()
    values = {v: np.asarray(events[v], np.float64) for v in names}
    values["generatorEventWeight"] = np.asarray(events["__weight__"], np.float64)
    return values


def write_basf2(
    path: Path,
    events: dict[str, Any],
    *,
    layout: str,
    simulation: bool,
    event_tree: bool = True,
    beam: bool = True,
) -> Path:
    """Write ``events`` as basf2 would, one tree per list (see the module docstring)."""
    lists = basf2_lists(events, simulation=simulation)
    keys = _bookkeeping(events)
    scalars = _event_variables(events, beam=beam)
    # basf2's __weight__ is the inverse sampling rate: 1 without sampling.
    ones = np.ones(len(keys["__event__"]))
    with uproot.recreate(path) as file:
        for tree, variables in lists.items():
            columns = {
                make_root_compatible(k): ak.values_astype(v, np.float64)
                for k, v in variables.items()
            }
            if layout == "event":
                candidates = ak.zip(columns, depth_limit=2)
                branches: dict[str, Any] = {
                    **keys,
                    "__weight__": ones.astype(np.float32),
                    **scalars,
                }
                out = file.mktree(
                    tree,
                    {
                        **{k: v.dtype for k, v in branches.items()},
                        "candidates": candidates.type.content,
                    },
                    counter_name=lambda _: "__ncandidates__",
                    field_name=lambda _outer, inner: inner,
                )
                out.extend({**branches, "candidates": candidates})
                continue
            counts = np.asarray(ak.num(next(iter(columns.values()))), np.int64)
            rows = {k: np.repeat(v, counts) for k, v in keys.items()}
            rows["__candidate__"] = np.asarray(
                ak.flatten(ak.local_index(next(iter(columns.values())))), np.int32
            )
            rows["__ncandidates__"] = np.repeat(counts, counts).astype(np.int32)
            rows["__weight__"] = np.repeat(ones, counts)
            rows.update({k: np.repeat(v, counts) for k, v in scalars.items()})
            rows.update({k: np.asarray(ak.flatten(v)) for k, v in columns.items()})
            _flat_tree(file, tree, rows)
        if layout == "candidate" and event_tree:
            _flat_tree(file, "event", {**keys, "__weight__": ones, **scalars})
    return path


def _flat_tree(file: Any, name: str, branches: dict[str, np.ndarray]) -> None:
    """A TTree of scalar branches (``file[name] = dict`` would make an RNTuple)."""
    tree = file.mktree(name, {k: v.dtype for k, v in branches.items()})
    tree.extend(branches)


@pytest.fixture
def write_basf2_file(tmp_path: Path) -> WriteBasf2:
    """:func:`write_basf2` into ``tmp_path``."""

    def write(name: str, events: dict[str, Any], **options: Any) -> Path:
        return write_basf2(tmp_path / name, events, **options)

    return write


@pytest.fixture
def read_ntuple() -> Callable[[Path], dict[str, Any]]:
    """:func:`read_belleflow`."""
    return read_belleflow


@pytest.fixture
def basf2_trees() -> dict[str, str]:
    """Collection -> tree name in the files of :func:`write_basf2`."""
    return dict(TREES)
