from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uproot

from belleflow.ntuple import (
    METADATA_NAME,
    TREE_NAME,
    FileMetadata,
    NtupleError,
    NtupleWriter,
    check_file,
    read_metadata,
    write_ntuple,
)


def test_written_file_is_a_ttree_with_the_format(make_ntuple: Callable[..., Path]) -> None:
    path = make_ntuple(n_events=150)
    with uproot.open(path) as file:
        tree = file[TREE_NAME]
        assert isinstance(tree, uproot.TTree)
        assert tree.num_entries == 150
        keys = set(tree.keys())
    assert {"__experiment__", "__event__", "__weight__", "Ecms", "nTrack", "Track_muonID"} <= keys
    assert {"MCParticle_PDG", "V0_track0", "Photon_clusterE9E21"} <= keys
    metadata = check_file(path)
    assert metadata.n_events == 150
    assert metadata.kind == "simulation"
    assert metadata.belleflow_version


def test_data_files_carry_no_mc_truth(make_ntuple: Callable[..., Path]) -> None:
    path = make_ntuple(simulation=False)
    with uproot.open(path) as file:
        keys = set(file[TREE_NAME].keys())
    assert not [k for k in keys if "MCParticle" in k or k.endswith("mcIndex")]
    assert check_file(path).kind == "data"


def test_values_round_trip(
    events_maker: Callable[..., dict[str, Any]], make_ntuple: Callable[..., Path]
) -> None:
    path = make_ntuple(n_events=50, seed=7)
    expected = events_maker(50, seed=7)
    with uproot.open(path) as file:
        arrays = file[TREE_NAME].arrays(["Track_px", "__event__"])
    np.testing.assert_array_equal(arrays["__event__"], expected["__event__"])
    assert arrays["Track_px"].tolist() == expected["Track"].px.tolist()


def test_missing_branch_is_named(
    events_maker: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    events = events_maker(10)
    del events["Ecms"]
    meta = FileMetadata(
        sample="s",
        process="mumu",
        kind="simulation",
        experiment="Belle II",
        machine="SuperKEKB",
        ecms=10.58,
        n_events=10,
    )
    with pytest.raises(NtupleError, match=r"bad\.root: event branch 'Ecms' is missing"):
        write_ntuple(tmp_path / "bad.root", events, meta)
    assert not list(tmp_path.iterdir()), "a failed write must leave no file behind"


def test_event_count_mismatch_is_refused(
    events_maker: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    meta = FileMetadata(
        sample="s",
        process="mumu",
        kind="simulation",
        experiment="Belle II",
        machine="SuperKEKB",
        ecms=10.58,
        n_events=11,
    )
    with pytest.raises(NtupleError, match="metadata says 11 events, content has 10"):
        write_ntuple(tmp_path / "x.root", events_maker(10), meta)


def test_corrupt_file_is_reported_with_its_name(make_ntuple: Callable[..., Path]) -> None:
    path = make_ntuple()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(NtupleError, match=str(path.name)):
        check_file(path)


def test_not_a_root_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.root"
    path.write_text("hello")
    with pytest.raises(NtupleError, match="cannot be read as a ROOT file"):
        read_metadata(path)


def test_file_without_metadata(tmp_path: Path) -> None:
    path = tmp_path / "plain.root"
    with uproot.recreate(path) as file:
        file.mktree("events", {"x": np.float64}).extend({"x": np.zeros(3)})
    with pytest.raises(NtupleError, match=f"no '{METADATA_NAME}' object"):
        check_file(path)


def _meta(n_events: int) -> FileMetadata:
    return FileMetadata(
        sample="s",
        process="mumu",
        kind="simulation",
        experiment="Belle II",
        machine="SuperKEKB",
        ecms=10.58,
        n_events=n_events,
    )


def test_streamed_chunks_equal_one_write(
    tmp_path: Path, events_maker: Callable[..., dict[str, Any]]
) -> None:
    chunks = [events_maker(n, seed=seed) for n, seed in ((40, 1), (0, 2), (25, 3))]
    with NtupleWriter(tmp_path / "streamed.root", simulation=True, basket_entries=16) as writer:
        for chunk in chunks:
            writer.extend(chunk)
        path = writer.close(_meta(65))
    assert check_file(path).n_events == 65
    with uproot.open(path) as file:
        px = file[TREE_NAME]["Track_px"].array().tolist()
    assert px == [event for c in chunks for event in c["Track"].px.tolist()]


def test_empty_file_has_every_branch(tmp_path: Path) -> None:
    with NtupleWriter(tmp_path / "empty.root", simulation=False) as writer:
        path = writer.close(_meta(0).model_copy(update={"kind": "data", "process": "data"}))
    assert check_file(path).n_events == 0


def test_failure_while_streaming_leaves_nothing(
    tmp_path: Path, events_maker: Callable[..., dict[str, Any]]
) -> None:
    msg = "generator crashed"

    def produce() -> None:
        with NtupleWriter(tmp_path / "partial.root", simulation=True) as writer:
            writer.extend(events_maker(10))
            raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match=msg):
        produce()
    assert not list(tmp_path.iterdir())


def test_metadata_must_describe_the_stream(
    tmp_path: Path, events_maker: Callable[..., dict[str, Any]]
) -> None:
    with NtupleWriter(tmp_path / "x.root", simulation=True) as writer:
        writer.extend(events_maker(10))
        with pytest.raises(NtupleError, match="metadata says 12 events, content has 10"):
            writer.close(_meta(12))
    assert not list(tmp_path.iterdir())
