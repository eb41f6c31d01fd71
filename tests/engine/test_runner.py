"""The run engine end to end on small files: executors, chunk sizes, accounting, failures."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hist
import numpy as np
import pytest
import uproot

from belleflow.engine import BadFileError, RunError, load_histograms, run_channels
from belleflow.processor import Channel


def assert_identical(a: dict[str, hist.Hist], b: dict[str, hist.Hist]) -> None:
    """Same histograms: names, axes, values and variances bin by bin (flow included)."""
    assert sorted(a) == sorted(b)
    for name, h in a.items():
        assert h.axes == b[name].axes, name
        np.testing.assert_array_equal(h.values(flow=True), b[name].values(flow=True))
        np.testing.assert_array_equal(h.variances(flow=True), b[name].variances(flow=True))


def run(catalogue: Path, channel: Channel, out: Path | None, **kwargs: Any) -> Any:
    kwargs.setdefault("executor", "iterative")
    kwargs.setdefault("progress", False)
    return run_channels([channel], catalogue=catalogue, out=out, echo=lambda _: None, **kwargs)


def entries(path: str | Path) -> int:
    with uproot.open(path) as file:
        return int(file["events"].num_entries)


def test_iterative_run_writes_outputs(
    small_catalogue: Path, dimuon_channel: Channel, tmp_path: Path
) -> None:
    result = run(small_catalogue, dimuon_channel, tmp_path / "out", chunksize=70)
    channel = result["dimuon"]
    assert result.complete
    histograms = channel.histograms
    assert set(histograms) == {"m_mumu", "m_vs_ntrack"}
    h = histograms["m_mumu"]
    assert h.axes.name == ("process", "variation", "m_mumu")
    assert list(h.axes["process"]) == ["data", "mumu", "tautau"]
    assert list(h.axes["variation"]) == ["muon_id_up", "nominal"]
    folder = tmp_path / "out" / "dimuon"
    assert_identical(load_histograms(folder), histograms)
    with uproot.open(folder / "histograms.root") as file:
        th1 = file["m_mumu__mumu__nominal"]
        np.testing.assert_allclose(th1.values(), h["mumu", "nominal", :].values())
        assert file["m_vs_ntrack__data__nominal"].values().shape == (10, 8)
    # Finished runs leave no checkpoints behind.
    assert not (tmp_path / "out" / ".checkpoints" / "dimuon").exists()


def test_accounting_equals_file_entries(
    small_catalogue: Path, dimuon_channel: Channel, tmp_path: Path
) -> None:
    result = run(small_catalogue, dimuon_channel, tmp_path / "out", chunksize=70)
    report = json.loads((tmp_path / "out" / "dimuon" / "report.json").read_text())
    assert report == json.loads(json.dumps(result["dimuon"].report))
    files = sorted((small_catalogue.parent).glob("*/b2*/*.root"))
    assert len(files) == 7  # Belle files are not this Belle II channel's
    assert set(report["files"]) == {str(f) for f in files}
    for f in files:
        assert report["files"][str(f)]["read"] == entries(f) == report["files"][str(f)]["entries"]
    assert report["events"]["read"] == report["events"]["expected"] == sum(map(entries, files))
    assert report["complete"] is True
    assert report["differences"] == []
    assert sum(report["chunks"]["events"].values()) == report["events"]["read"]
    # Cutflow: raw counts never rise, weighted = raw x the catalogue weight here.
    for sample, cuts in report["cutflow"].items():
        raw = [v[0] for v in cuts.values()]
        assert raw == sorted(raw, reverse=True)
        weight = report["samples"][sample]["weight"]
        for count, weighted in cuts.values():
            assert weighted == pytest.approx(count * weight)
    assert report["samples"]["b2data"]["kind"] == "data"
    assert report["samples"]["b2mumu"]["process"] == "mumu"
    assert report["samples"]["b2mumu"]["generated_events"] == 651
    assert report["samples"]["b2mumu"]["expected_events"] == 651
    assert report["catalogue"]["sha256"]
    assert report["timing"]["events_per_s"] > 0


def test_histograms_are_scaled_by_catalogue_weights(
    small_catalogue: Path, dimuon_channel: Channel, tmp_path: Path
) -> None:
    result = run(small_catalogue, dimuon_channel, tmp_path / "out")
    report = result["dimuon"].report
    h = result["dimuon"].histograms["m_mumu"]
    mumu = h["mumu", "nominal", :]
    final_cut = report["cutflow"]["b2mumu"]["opposite_charge"]
    assert mumu.sum(flow=True).value == pytest.approx(final_cut[1])
    weight = report["samples"]["b2mumu"]["weight"]
    assert mumu.sum(flow=True).variance == pytest.approx(final_cut[0] * weight**2)


@pytest.mark.parametrize("chunksize", [37, 150, 100_000])
def test_chunk_size_does_not_change_histograms(
    small_catalogue: Path, dimuon_channel: Channel, chunksize: int
) -> None:
    reference = run(small_catalogue, dimuon_channel, None, chunksize=70)
    other = run(small_catalogue, dimuon_channel, None, chunksize=chunksize)
    assert_identical(reference["dimuon"].histograms, other["dimuon"].histograms)
    assert reference["dimuon"].cutflow == other["dimuon"].cutflow


def test_executors_give_identical_histograms(
    small_catalogue: Path, dimuon_channel: Channel, dask_client: Any
) -> None:
    iterative = run(small_catalogue, dimuon_channel, None, chunksize=60)
    futures = run(
        small_catalogue, dimuon_channel, None, chunksize=60, executor="futures", workers=2
    )
    dask = run(small_catalogue, dimuon_channel, None, chunksize=60, client=dask_client)
    assert_identical(iterative["dimuon"].histograms, futures["dimuon"].histograms)
    assert_identical(iterative["dimuon"].histograms, dask["dimuon"].histograms)
    assert iterative["dimuon"].cutflow == dask["dimuon"].cutflow == futures["dimuon"].cutflow
    assert dask["dimuon"].report["events"]["read"] == iterative["dimuon"].report["events"]["read"]


def test_blinding(small_catalogue: Path, dimuon_channel: Channel) -> None:
    blind = run(small_catalogue, dimuon_channel, None)["dimuon"].histograms["m_mumu"]
    unblinded = run(small_catalogue, dimuon_channel, None, unblind="test: compare with blinded")
    unblind = unblinded["dimuon"].histograms["m_mumu"]
    window = slice(hist.loc(10.0), hist.loc(10.5))
    assert blind["data", "nominal", window].sum().value == 0
    assert unblind["data", "nominal", window].sum().value > 0
    # Outside the window and for simulation nothing changes.
    np.testing.assert_array_equal(
        blind["mumu", "nominal", :].values(), unblind["mumu", "nominal", :].values()
    )
    assert blind["data", "nominal", : hist.loc(10.0)].sum().value == (
        unblind["data", "nominal", : hist.loc(10.0)].sum().value
    )


def test_truncated_file_fails_early_naming_it(
    small_catalogue: Path, dimuon_channel: Channel, tmp_path: Path
) -> None:
    bad = small_catalogue.parent / "mc" / "b2mumu" / "f1.root"
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    with pytest.raises(BadFileError, match=re.escape(str(bad))):
        run(small_catalogue, dimuon_channel, tmp_path / "out")
    assert not (tmp_path / "out" / "dimuon" / "histograms.json").exists()

    result = run(small_catalogue, dimuon_channel, tmp_path / "out", skip_bad_files=True)
    report = result["dimuon"].report
    assert report["complete"] is False
    assert report["incomplete_reason"] == "skip-bad-files (incomplete by choice)"
    [listed] = report["bad_files"]
    assert listed["path"] == str(bad)
    assert "truncated" in listed["reason"] or "cannot be opened" in listed["reason"]
    assert [d["file"] for d in report["differences"]] == [str(bad)]


def test_corrupt_basket_fails_naming_file_or_is_skipped(
    small_catalogue: Path, dimuon_channel: Channel, tmp_path: Path, corrupt_basket: Any
) -> None:
    bad = small_catalogue.parent / "mc" / "b2mumu" / "f2.root"
    n_bad = entries(bad)
    corrupt_basket(bad)
    with pytest.raises(RunError, match=re.escape(str(bad))):
        run(small_catalogue, dimuon_channel, tmp_path / "out", retries=1)
    report = json.loads((tmp_path / "out" / "dimuon" / "report.json").read_text())
    assert report["complete"] is False
    assert str(bad) in report["error"]
    assert not (tmp_path / "out" / "dimuon" / "histograms.json").exists()

    result = run(small_catalogue, dimuon_channel, tmp_path / "out", retries=1, skip_bad_files=True)
    report = result["dimuon"].report
    assert report["complete"] is False
    assert report["incomplete_reason"] == "skip-bad-files (incomplete by choice)"
    assert report["events"]["lost_bad_files"] == n_bad
    assert report["events"]["missing"] == n_bad
    [difference] = report["differences"]
    assert difference["file"] == str(bad)
    assert difference["missing"] == n_bad
    assert all(f["chunk"].startswith(str(bad)) for f in report["failures"])
    assert all(f["attempts"] == 2 for f in report["failures"])


def test_missing_file_fails_early(
    small_catalogue: Path, dimuon_channel: Channel, tmp_path: Path
) -> None:
    text = small_catalogue.read_text().replace(
        "{name: b2tautau, process: tautau, stands_for: [b2data], events: 417}",
        "{name: b2tautau, process: tautau, stands_for: [b2data], events: 417, "
        "files: [mc/b2tautau/f0.root, mc/b2tautau/gone.root]}",
    )
    small_catalogue.write_text(text)
    with pytest.raises(ValueError, match=r"gone\.root"):
        run(small_catalogue, dimuon_channel, tmp_path / "out")
    result = run(small_catalogue, dimuon_channel, tmp_path / "out", skip_bad_files=True)
    assert "gone.root" in result["dimuon"].report["bad_files"][0]["reason"]


def test_resume_gives_identical_histograms(
    small_catalogue: Path, dimuon_channel: Channel, tmp_path: Path
) -> None:
    full = run(small_catalogue, dimuon_channel, None, chunksize=50)
    out = tmp_path / "out"
    partial = run(small_catalogue, dimuon_channel, out, chunksize=50, maxchunks=2)
    assert partial["dimuon"].report["incomplete_reason"] == "maxchunks (incomplete by choice)"
    assert partial["dimuon"].report["differences"]
    stored = list((out / ".checkpoints" / "dimuon").rglob("*.json"))
    assert len(stored) == partial["dimuon"].report["chunks"]["processed"]
    resumed = run(small_catalogue, dimuon_channel, out, chunksize=50, resume=True)
    assert resumed["dimuon"].report["chunks"]["resumed"] == len(stored)
    assert resumed.complete
    assert_identical(full["dimuon"].histograms, resumed["dimuon"].histograms)
    assert_identical(full["dimuon"].histograms, load_histograms(out / "dimuon"))
    assert full["dimuon"].cutflow == resumed["dimuon"].cutflow


def test_planning_uses_the_cache(
    small_catalogue: Path, dimuon_channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from belleflow.engine import fileset  # noqa: PLC0415 - patched below

    run(small_catalogue, dimuon_channel, None)
    calls: list[str] = []
    original = fileset.inspect_file

    def counting(path: str, **kwargs: Any) -> Any:
        calls.append(path)
        return original(path, **kwargs)

    monkeypatch.setattr(fileset, "inspect_file", counting)
    run(small_catalogue, dimuon_channel, None)
    assert calls == []
    # A modified file is checked again.
    touched = small_catalogue.parent / "data" / "b2data" / "f0.root"
    touched.write_bytes(touched.read_bytes())
    run(small_catalogue, dimuon_channel, None)
    assert calls == [str(touched)]
