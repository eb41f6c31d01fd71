"""A foreign or malformed file gets one error naming the file and the problem."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from belleflow.basf2 import Basf2ImportError, ImportOptions, import_file, make_root_compatible
from belleflow.basf2.mapping import required_variables

DATA = ImportOptions(kind="data", lists={"muons": "Track"})
TRACK = required_variables("Track", simulation=False, with_v0=False)


def muon_tree(
    file: Any,
    name: str = "muons",
    *,
    counts: tuple[int, ...] = (2, 0, 1),
    layout: str = "event",
    variables: tuple[str, ...] = tuple(TRACK),
    events: tuple[int, ...] | None = None,
    ncandidates: tuple[int, ...] | None = None,
    candidate: tuple[int, ...] | None = None,
    weight: tuple[float, ...] | None = None,
    charge: float | None = None,
) -> None:
    """A minimal basf2 tree of Track variables (valid unless told otherwise).

    ``ncandidates`` replaces ``__ncandidates__`` (event layout: written apart
    from the arrays' own counter; candidate layout: per row); ``charge`` sets
    every charge.
    """
    n_events = len(counts)
    total = sum(counts)
    values = {make_root_compatible(v): np.linspace(0.1, 0.9, total) for v in variables}
    values["charge"] = (
        np.where(np.arange(total) % 2, 1.0, -1.0) if charge is None else np.full(total, charge)
    )
    values["nCDCHits"] = np.arange(total) + 20.0
    values = {k: v for k, v in values.items() if k in [make_root_compatible(v) for v in variables]}
    keys = {
        "__experiment__": np.full(n_events, 26, np.int32),
        "__run__": np.full(n_events, 4, np.int32),
        "__event__": np.asarray(events or range(1, n_events + 1), np.uint32),
        "__production__": np.zeros(n_events, np.int32),
    }
    if layout == "event":
        jagged = ak.zip({k: ak.unflatten(v, list(counts)) for k, v in values.items()})
        scalars: dict[str, Any] = {**keys, "__weight__": np.ones(n_events, np.float32)}
        counter = "__ncandidates__"
        if ncandidates is not None:
            counter = "nCand"
            scalars["__ncandidates__"] = np.asarray(ncandidates, np.int32)
        types = {k: v.dtype for k, v in scalars.items()}
        tree = file.mktree(
            name,
            {**types, "c": jagged.type.content},
            counter_name=lambda _: counter,
            field_name=lambda _outer, inner: inner,
        )
        tree.extend({**scalars, "c": jagged})
        return
    repeat = np.asarray(counts)
    rows: dict[str, Any] = {k: np.repeat(v, repeat) for k, v in keys.items()}
    rows["__candidate__"] = np.asarray(candidate or [i for c in counts for i in range(c)], np.int32)
    rows["__ncandidates__"] = np.asarray(ncandidates or np.repeat(repeat, repeat), np.int32)
    rows["__weight__"] = np.asarray(weight or np.ones(total))
    rows.update(values)
    file.mktree(name, {k: v.dtype for k, v in rows.items()}).extend(rows)


Writer = Callable[..., Path]


@pytest.fixture
def basf2_file(tmp_path: Path) -> Writer:
    """Write a file of :func:`muon_tree` trees: ``basf2_file(muons={...}, pions={...})``."""

    def write(**trees: dict[str, Any]) -> Path:
        path = tmp_path / "in.root"
        with uproot.recreate(path) as file:
            for name, options in trees.items():
                muon_tree(file, name, **options)
        return path

    return write


def expect_error(path: Path, tmp_path: Path, problem: str, options: ImportOptions = DATA) -> None:
    with pytest.raises(Basf2ImportError, match=problem) as info:
        import_file(path, tmp_path / "out" / "x.root", options)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out" / "x.root").exists()


def test_valid_minimal_file_imports(basf2_file: Writer, tmp_path: Path) -> None:
    # The reference for the cases below: the same file, unbroken, imports.
    for layout in ("event", "candidate"):
        report = import_file(
            basf2_file(muons={"layout": layout}), tmp_path / f"{layout}.root", DATA
        )
        assert report.metadata.n_events == (3 if layout == "event" else 2)
        assert report.collections == {"Track": "muons", "Photon": None, "V0": None}


def test_not_root(tmp_path: Path) -> None:
    path = tmp_path / "notes.root"
    path.write_text("these are my notes\n")
    expect_error(path, tmp_path, "not a ROOT file")
    expect_error(tmp_path / "missing.root", tmp_path, "no such file")


def test_no_tree(tmp_path: Path) -> None:
    path = tmp_path / "empty.root"
    with uproot.recreate(path) as file:
        file["note"] = "no tree here"
    expect_error(path, tmp_path, r"no TTree in the file \(found: note\)")


def test_belleflow_ntuple(make_ntuple: Callable[..., Path], tmp_path: Path) -> None:
    expect_error(make_ntuple("already.root", 10), tmp_path, "already a belleflow ntuple")


def test_foreign_tree(tmp_path: Path) -> None:
    path = tmp_path / "foreign.root"
    with uproot.recreate(path) as file:
        file.mktree("Events", {"nMuon": np.int32}).extend({"nMuon": np.array([1, 2], np.int32)})
    expect_error(path, tmp_path, "tree 'Events': not a basf2 ntuple: no __experiment__")


def test_undecodable_branch(basf2_file: Writer, tmp_path: Path) -> None:
    path = basf2_file(muons={"variables": (*TRACK, "p__zz")})
    expect_error(path, tmp_path, "tree 'muons': branch 'p__zz': '__zz' is no basf2 escape")


def test_ncandidates_inconsistent_with_arrays(basf2_file: Writer, tmp_path: Path) -> None:
    path = basf2_file(muons={"ncandidates": (2, 1, 1)})
    expect_error(
        path,
        tmp_path,
        r"branch 'px' has 0 values in experiment 26 run 4 event 2 but __ncandidates__ = 1",
    )


@pytest.mark.parametrize(
    ("tree", "problem"),
    [
        ({"ncandidates": (2, 2, 2)}, "event 3 has 1 rows but __ncandidates__ = 2"),
        ({"candidate": (0, 1, 1)}, "__candidate__ 1 inconsistent with __ncandidates__ 1"),
        ({"candidate": (1, 0, 0)}, "__candidate__ 0 inconsistent with __ncandidates__ 2"),
        ({"events": (7, 8, 7), "counts": (1, 1, 1)}, "event 7 appears in two places"),
        ({"weight": (1.0, 4.0, 1.0)}, "__weight__ differs .* event 1"),
    ],
)
def test_candidate_counters(
    basf2_file: Writer, tmp_path: Path, tree: dict[str, Any], problem: str
) -> None:
    expect_error(basf2_file(muons={"layout": "candidate", **tree}), tmp_path, problem)


def test_missing_required_variable(basf2_file: Writer, tmp_path: Path) -> None:
    path = basf2_file(muons={"variables": tuple(v for v in TRACK if v != "nCDCHits")})
    expect_error(
        path,
        tmp_path,
        r"tree 'muons' \(Track\) lacks the required candidate variable\(s\) nCDCHits",
    )


def test_non_integer_charge(basf2_file: Writer, tmp_path: Path) -> None:
    path = basf2_file(muons={"charge": 0.5})
    expect_error(path, tmp_path, r"tree 'muons' \(Track\): variable 'charge' must hold integers")


def test_lists_and_kinds(basf2_file: Writer, tmp_path: Path) -> None:
    path = basf2_file(muons={}, pions={})
    expect_error(path, tmp_path, "tree 'pions' .* fills no collection: map it with --list pions=")
    both = dataclasses.replace(DATA, lists={"muons": "Track", "pions": "Track"})
    expect_error(path, tmp_path, "trees 'muons' and 'pions' both fill Track", both)
    expect_error(
        path, tmp_path, "no tree 'kaons'", dataclasses.replace(DATA, lists={"kaons": "Track"})
    )
    mc = dataclasses.replace(DATA, lists={"muons": "Track", "pions": "MCParticle"})
    expect_error(path, tmp_path, "fills MCParticle, but data has no MC truth", mc)
    ignored = dataclasses.replace(DATA, ignore=frozenset({"pions"}))
    assert import_file(path, tmp_path / "ok.root", ignored).not_imported == {}
    simulation = dataclasses.replace(ignored, kind="simulation", process="mumu")
    expect_error(path, tmp_path, "needs a generator-level list for MCParticle", simulation)
    expect_error(path, tmp_path, "needs --process", dataclasses.replace(simulation, process=None))
    mislabelled = dataclasses.replace(ignored, process="mumu")
    expect_error(path, tmp_path, "the process of data is 'data'", mislabelled)
