"""Event accounting that cannot be fooled: real files copied, emptied, retyped, removed.

Each test breaks the small catalogue's files the way an operator could, and
checks that the run refuses them (naming the file and the sample) or, with
``skip_bad_files``, lists them with their events and is incomplete.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from belleflow.engine import BadFileError, run_channels
from belleflow.ntuple import io as ntuple_io
from belleflow.ntuple.format import Branch
from belleflow.processor import Channel

#: Events of the fixture files (tests/engine/conftest.py): b2data 200+217,
#: b2mumu 200+217+234, b2tautau 200+217.
TOTAL = 417 + 651 + 417


def run(catalogue: Path, channel: Channel, out: Path | None, **kwargs: Any) -> Any:
    lines: list[str] = []
    kwargs.setdefault("executor", "iterative")
    kwargs.setdefault("progress", False)
    result = run_channels(
        [channel], catalogue=catalogue, out=out, echo=lines.append, chunksize=100, **kwargs
    )
    result.lines = lines
    return result


def test_intact_files_are_complete(small_catalogue: Path, dimuon_channel: Channel) -> None:
    result = run(small_catalogue, dimuon_channel, None)
    report = result["dimuon"].report
    assert report["complete"] is True
    assert report["events"]["expected"] == report["events"]["read"] == TOTAL
    assert report["samples"]["b2mumu"]["expected_from"] == "catalogue"
    assert report["samples"]["b2data"]["expected_from"] == "files"
    assert f"dimuon: {TOTAL}/{TOTAL} events" in result.lines[-1]


def test_a_copy_of_a_file_is_caught_by_content(
    small_catalogue: Path, dimuon_channel: Channel
) -> None:
    folder = small_catalogue.parent / "mc" / "b2mumu"
    copy = folder / "f9_copy.root"
    shutil.copy(folder / "f1.root", copy)
    with pytest.raises(BadFileError, match=r"duplicate: the same file as .*f1\.root") as info:
        run(small_catalogue, dimuon_channel, None)
    assert str(copy) in str(info.value)
    assert "'b2mumu'" in str(info.value)

    result = run(small_catalogue, dimuon_channel, None, skip_bad_files=True)
    report = result["dimuon"].report
    assert report["complete"] is False
    [bad] = report["bad_files"]
    assert bad["path"] == str(copy)
    assert bad["lost_events"] == 0
    assert bad["reason"].endswith("(217 events, not the sample's)")
    assert report["events"]["missing"] == 0
    # The copy was not read: the sample's yield is not doubled.
    assert report["samples"]["b2mumu"]["events_read"] == 651
    assert report["events"]["read"] == TOTAL


def test_an_empty_tree_is_refused(
    small_catalogue: Path, dimuon_channel: Channel, make_ntuple: Any
) -> None:
    empty = make_ntuple("mc/b2tautau/f1.root", n_events=0, sample="b2tautau")
    with pytest.raises(BadFileError, match=re.escape(f"{empty}: empty")):
        run(small_catalogue, dimuon_channel, None)
    report = run(small_catalogue, dimuon_channel, None, skip_bad_files=True)["dimuon"].report
    assert report["complete"] is False
    assert report["events"]["expected"] == TOTAL
    assert report["events"]["missing"] == 217
    problems = report["samples"]["b2tautau"]["problems"]
    assert "its files hold 200 events, the catalogue (which sets its weight) says 417" in problems


def test_a_branch_of_the_wrong_type_is_refused(
    small_catalogue: Path,
    dimuon_channel: Channel,
    make_ntuple: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    track = tuple(
        Branch(b.name, "int32", b.unit, b.doc) if b.name == "muonID" else b
        for b in ntuple_io.COLLECTIONS["Track"]
    )
    with monkeypatch.context() as patch:
        # The writer casts to the format: make it write muonID as int32 (all zero).
        patch.setitem(ntuple_io.COLLECTIONS, "Track", track)
        retyped = make_ntuple("mc/b2mumu/f1.root", n_events=217, seed=4, sample="b2mumu")
    with pytest.raises(BadFileError, match="Track_muonID is int32, not float32") as info:
        run(small_catalogue, dimuon_channel, None)
    assert str(retyped) in str(info.value)


def test_a_file_of_another_sample_is_an_extra_file(
    small_catalogue: Path, dimuon_channel: Channel
) -> None:
    root = small_catalogue.parent
    stray = root / "mc" / "b2tautau" / "f7.root"
    shutil.copy(root / "mc" / "b1mumu" / "f0.root", stray)
    with pytest.raises(
        BadFileError, match="extra file: its metadata says it belongs to sample 'b1mumu'"
    ):
        run(small_catalogue, dimuon_channel, None)


def test_a_missing_data_file_is_caught_by_its_numbering(
    small_catalogue: Path, dimuon_channel: Channel
) -> None:
    (small_catalogue.parent / "data" / "b2data" / "f1.root").unlink()
    with pytest.raises(
        BadFileError, match=r"'b2data': missing files: the production wrote 2, numbers \[1\]"
    ):
        run(small_catalogue, dimuon_channel, None)
    result = run(small_catalogue, dimuon_channel, None, skip_bad_files=True)
    report = result["dimuon"].report
    assert report["complete"] is False
    assert report["events"]["expected_unknown_samples"] == ["b2data"]
    # The console does not pretend to know what is missing.
    assert "+ unknown (1 sample(s) lost files of unknown size)" in result.lines[-1]


def test_skipped_unreadable_file_counts_its_events(
    small_catalogue: Path, dimuon_channel: Channel
) -> None:
    bad = small_catalogue.parent / "mc" / "b2mumu" / "f2.root"
    bad.write_bytes(b"\0" * 1000)  # the header cannot be read: entries unknown
    result = run(small_catalogue, dimuon_channel, None, skip_bad_files=True)
    report = result["dimuon"].report
    assert report["complete"] is False
    assert report["events"]["expected"] == TOTAL  # the catalogue's, not the readable files'
    assert report["events"]["missing"] == 234
    assert report["events"]["read"] == TOTAL - 234
    assert f"dimuon: {TOTAL - 234}/{TOTAL} events" in result.lines[-1]
    assert "1 bad file(s) or chunk(s) skipped" in result.lines[-1]
    assert "INCOMPLETE (skip-bad-files (incomplete by choice))" in result.lines[-1]
