"""``--maxchunks``: a quick look reads at most N chunks in all, spread over data, backgrounds, signals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from belleflow.engine import run_channels
from belleflow.engine.fileset import FileInfo, SamplePlan, build_work_items
from belleflow.processor import Channel, chunk_key


def _sample(name: str, kind: str, process: str, n_files: int, **extra: Any) -> SamplePlan:
    files = tuple(f"/{name}/f{i}.root" for i in range(n_files))
    return SamplePlan(
        name, kind, process, 1.0, "Belle II", "SuperKEKB", 1.0, None, files=files, **extra
    )


def _plan() -> tuple[dict[str, SamplePlan], dict[str, FileInfo]]:
    samples = [
        _sample("data_a", "data", "data", 2),
        _sample("data_b", "data", "data", 1),
        _sample("mc_mumu", "simulation", "mumu", 3),
        _sample("mc_ee", "simulation", "ee", 1),
    ]
    samples += [
        _sample(f"zp_m{m}", "signal", f"zp_m{m}_ctau0", 1, model="zp", mass=float(m), ctau=0.0)
        for m in range(1, 9)
    ]
    by_name = {s.name: s for s in samples}
    # 200 entries a file: two chunks of 100 each.
    files = {p: FileInfo(p, 200) for s in samples for p in s.files}
    return by_name, files


def test_every_group_is_touched_before_any_gets_a_second_chunk() -> None:
    samples, files = _plan()
    everything, none_left = build_work_items(samples, files, chunksize=100)
    assert len(everything) == 2 * 15
    assert none_left == {}
    items, left_out = build_work_items(samples, files, chunksize=100, maxchunks=4)
    # Data, the two backgrounds, the signal model: one chunk each (items in sample order).
    assert [(i.dataset, i.entrystart) for i in items] == [
        ("data_a", 0),
        ("mc_mumu", 0),
        ("mc_ee", 0),
        ("zp_m1", 0),
    ]
    # Exact accounting: what is not read is listed, chunk by chunk.
    skipped = sum(stop - start for ranges in left_out.values() for start, stop in ranges)
    assert skipped + sum(i.entrystop - i.entrystart for i in items) == 200 * 15
    assert left_out["/data_a/f0.root"] == [(100, 200)]
    assert left_out["/data_a/f1.root"] == [(0, 100), (100, 200)]


def test_a_longer_look_spreads_over_samples_and_the_signal_grid() -> None:
    samples, files = _plan()
    items, _ = build_work_items(samples, files, chunksize=100, maxchunks=12)
    taken = [(i.dataset, i.filename.rsplit("/", 1)[1], i.entrystart) for i in items]
    # Each round takes one chunk from each group; a group visits its samples in
    # turn (the second data sample before the first one's second chunk), and the
    # signal grid is sampled across its masses (m1, m5, m3), not from one end.
    assert sorted(taken) == sorted(
        [
            ("data_a", "f0.root", 0),
            ("mc_mumu", "f0.root", 0),
            ("mc_ee", "f0.root", 0),
            ("zp_m1", "f0.root", 0),
            ("data_b", "f0.root", 0),
            ("mc_mumu", "f0.root", 100),
            ("mc_ee", "f0.root", 100),
            ("zp_m5", "f0.root", 0),
            ("data_a", "f0.root", 100),
            ("mc_mumu", "f1.root", 0),
            ("zp_m3", "f0.root", 0),
            ("data_b", "f0.root", 100),
        ]
    )


def test_a_quick_look_run_reports_the_chunks_it_skipped(
    small_catalogue: Path, dimuon_channel: Channel
) -> None:
    full = run_channels(
        [dimuon_channel], catalogue=small_catalogue, executor="iterative", out=None,
        chunksize=70, progress=False, echo=lambda _: None,
    )["dimuon"]  # fmt: skip
    quick = run_channels(
        [dimuon_channel], catalogue=small_catalogue, executor="iterative", out=None,
        chunksize=70, maxchunks=3, progress=False, echo=lambda _: None,
    )["dimuon"]  # fmt: skip
    report = quick.report
    assert report["complete"] is False
    assert report["incomplete_reason"] == "maxchunks (incomplete by choice)"
    assert report["chunks"]["processed"] == 3
    assert full.report["chunks"]["processed"] > 3
    # Data, mumu and tautau each gave one chunk.
    read = {name: s["events_read"] for name, s in report["samples"].items()}
    assert read["b2mumu"] > 0
    assert read["b2tautau"] > 0
    assert read["b2data"] + read.get("b1data", 0) > 0
    # Every chunk not read is named; read + skipped = expected, file by file.
    skipped = report["chunks"]["skipped_by_choice"]
    assert len(skipped) + 3 == full.report["chunks"]["processed"]
    assert sorted([*skipped, *report["chunks"]["events"]]) == sorted(
        full.report["chunks"]["events"]
    )
    events = report["events"]
    assert events["read"] + events["not_processed_by_choice"] == events["expected"]
    for difference in report["differences"]:
        assert "not processed (--maxchunks): entries " in difference["reason"]
        path = difference["file"]
        ranges = [k for k in skipped if k.startswith(f"{path}|")]
        assert ranges
        missing = sum(int(k.split("|")[2]) - int(k.split("|")[1]) for k in ranges)
        assert missing == difference["missing"]
    assert chunk_key("x", 0, 1) == "x|0|1"  # the key format the lists use
