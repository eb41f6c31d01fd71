"""One pass over the files: several channels read each chunk once, with outputs as if run alone."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import cloudpickle
import hist
import numpy as np
import pytest
from coffea.processor import executor as coffea_executor

from belleflow.catalogue import load_catalogue
from belleflow.engine import RunError, load_histograms, run_channels
from belleflow.engine.fileset import plan_channel
from belleflow.processor import Channel, ChannelProcessor, ChunkContext

#: Environment variable: ``FILE:START`` of the chunk on which :class:`Fragile` raises.
FAIL_AT = "BELLEFLOW_TEST_FAIL_AT"


class Fragile(ChannelProcessor):
    """A second channel (Belle and Belle II): track multiplicity; raises on one chosen chunk."""

    histograms = {"ntrack": (hist.axis.Integer(0, 12, name="ntrack"),)}  # noqa: RUF012 - declaration
    signal_windows = {"ntrack": ((4, 5),)}  # noqa: RUF012 - declaration

    def process_chunk(self, events: Any, chunk: ChunkContext) -> None:
        where = f"{Path(events.metadata['filename']).name}:{events.metadata['entrystart']}"
        if os.environ.get(FAIL_AT) == f"{events.metadata['dataset']}/{where}":
            msg = "this channel cannot process this chunk"
            raise ValueError(msg)
        # A field added here must not reach the other channel's events.
        events["ntrack"] = ak.num(events.Track)
        selected = chunk.cut("some_tracks", events.ntrack >= 1)
        chunk.fill("ntrack", mask=selected, ntrack=events.ntrack[selected])


FRAGILE = Channel(
    name="fragile",
    description="test channel: track multiplicity",
    skim="lowmult",
    experiments=("Belle", "Belle II"),
    processor_class=Fragile,
)

cloudpickle.register_pickle_by_value(sys.modules[__name__])

#: Report keys that differ between two runs of the same configuration.
VOLATILE = {"start", "end", "command_line", "timing", "configuration"}


def _run(channels: list[Channel], catalogue: Path, out: Path | None, **options: Any) -> Any:
    return run_channels(
        channels,
        catalogue=catalogue,
        executor="iterative",
        chunksize=70,
        out=out,
        progress=False,
        echo=lambda _: None,
        **options,
    )


def _stable(report: dict[str, Any]) -> dict[str, Any]:
    """What two runs of one configuration share (a resumed run resumed some chunks)."""
    out = {k: v for k, v in report.items() if k not in VOLATILE}
    out["chunks"] = {k: v for k, v in out["chunks"].items() if k != "resumed"}
    return out


def _assert_same_outputs(one: Path, alone: Path) -> None:
    """Histograms (values and variances, every bin) and reports identical."""
    got, want = load_histograms(one), load_histograms(alone)
    assert got.keys() == want.keys()
    for name, h in want.items():
        assert got[name] == h, name
        np.testing.assert_array_equal(got[name].variances(flow=True), h.variances(flow=True))
    report = json.loads((one / "report.json").read_text())
    reference = json.loads((alone / "report.json").read_text())
    assert _stable(report) == _stable(reference)


def _count_file_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every file coffea opens to read a chunk."""
    opened: list[str] = []
    original = coffea_executor.uproot.open

    def counting(files: Any, *args: Any, **kwargs: Any) -> Any:
        opened.extend(files if isinstance(files, dict) else [files])
        return original(files, *args, **kwargs)

    monkeypatch.setattr(coffea_executor.uproot, "open", counting)
    return opened


def test_channels_read_each_chunk_once_with_outputs_as_if_run_alone(
    small_catalogue: Path,
    dimuon_channel: Channel,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    channels = [dimuon_channel, FRAGILE]
    alone_chunks = 0
    for channel in channels:
        result = _run([channel], small_catalogue, tmp_path / "alone")
        alone_chunks += result[channel.name].report["chunks"]["processed"]
    opened = _count_file_opens(monkeypatch)
    result = _run(channels, small_catalogue, tmp_path / "together")
    assert result.complete
    # dimuon's chunks (Belle II) are a subset of fragile's (Belle and Belle II).
    assert len(opened) == result["fragile"].report["chunks"]["processed"] < alone_chunks
    for channel in channels:
        _assert_same_outputs(
            tmp_path / "together" / channel.name, tmp_path / "alone" / channel.name
        )


def test_a_failing_channel_fails_alone(
    small_catalogue: Path,
    dimuon_channel: Channel,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _run([dimuon_channel], small_catalogue, tmp_path / "alone")
    monkeypatch.setenv(FAIL_AT, "b2mumu/f1.root:0")
    result = _run([dimuon_channel, FRAGILE], small_catalogue, tmp_path / "out", skip_bad_files=True)
    # The other channel's chunk is neither failed nor retried: it is as if run alone.
    _assert_same_outputs(tmp_path / "out" / "dimuon", tmp_path / "alone" / "dimuon")
    report = result["fragile"].report
    assert report["complete"] is False
    assert report["incomplete_reason"] == "skip-bad-files (incomplete by choice)"
    [failure] = report["failures"]
    assert failure["chunk"].endswith("f1.root|0|73")
    assert failure["reason"] == "ValueError: this channel cannot process this chunk"
    assert (failure["lost_events"], failure["attempts"]) == (73, 4)
    assert report["events"]["missing"] == 73
    assert report["retries"]["total"] == 0


def test_without_skipping_the_failing_channel_is_named_and_resume_is_per_channel(
    small_catalogue: Path,
    dimuon_channel: Channel,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out"
    channels = [dimuon_channel, FRAGILE]
    monkeypatch.setenv(FAIL_AT, "b2mumu/f1.root:146")
    with pytest.raises(RunError, match=r"^channel 'fragile': .*f1\.root\|146\|217: failed after"):
        _run(channels, small_catalogue, out, retries=1)
    failed = json.loads((out / "fragile" / "report.json").read_text())
    assert failed["error"].startswith(f"{small_catalogue.parent / 'mc/b2mumu/f1.root'}|146|217")
    stopped = json.loads((out / "dimuon" / "report.json").read_text())
    assert stopped["incomplete_reason"] == "failed"
    assert stopped["error"].startswith("the pass over the files stopped: channel 'fragile': ")
    stored = {c.name: len(list((out / ".checkpoints" / c.name).rglob("*.json"))) for c in channels}
    # Both stored the 11 chunks before the failing one; dimuon also stored that one.
    assert stored == {"dimuon": 12, "fragile": 11}

    monkeypatch.delenv(FAIL_AT)
    result = _run(channels, small_catalogue, out, resume=True)
    assert result.complete
    for channel in channels:
        assert result[channel.name].report["chunks"]["resumed"] == stored[channel.name]
        _run([channel], small_catalogue, tmp_path / "alone")
        _assert_same_outputs(out / channel.name, tmp_path / "alone" / channel.name)


SIGNALS = """
signals:
  - name: dimuon_sig
    channel: dimuon
    model: zprime_lmu_ltau
    stands_for: [b2data]
    masses: [1.0]
    events_per_point: 150
  - name: other_sig
    channel: other
    model: zprime_lmu_ltau
    stands_for: [b2data]
    masses: [2.0, 3.0]
    events_per_point: 150
"""


def test_a_channel_reads_only_its_own_signals(
    small_catalogue: Path,
    dimuon_channel: Channel,
    make_ntuple: Callable[..., Path],
) -> None:
    text = (
        small_catalogue.read_text()
        .replace("channels: []", "channels: [dimuon, other]")
        .replace("skims:", SIGNALS.strip() + "\nskims:")
    )
    small_catalogue.write_text(text)
    catalogue = load_catalogue(small_catalogue)
    signals = [v for v in catalogue.skim("lowmult") if v.kind == "signal"]
    assert len(signals) == 3
    for view in signals:
        [path] = view.files  # relative to the catalogue's data_root, its folder
        Path(small_catalogue.parent, path).parent.mkdir(parents=True, exist_ok=True)
        make_ntuple(
            path,
            n_events=150,
            sample=view.name,
            generator={"index": 0, "n_files": 1, "production_version": 1},
        )
    plan = plan_channel(catalogue, dimuon_channel, chunksize=70)
    planned = [s.name for s in plan.samples.values() if s.kind == "signal"]
    assert planned == [v.name for v in signals if v.channel == "dimuon"]
    # Its accounting is its own samples', and adds up.
    assert plan.expected_events == sum(a.planned for a in plan.accounts.values())
    assert not [p for a in plan.accounts.values() for p in a.problems]
