"""The run's bar names the channel and counts chunks (not Dask tasks), on a terminal only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from belleflow.engine import run_channels
from belleflow.processor import Channel


def _run(catalogue: Path, channel: Channel, **kwargs: Any) -> Any:
    return run_channels(
        [channel], catalogue=catalogue, out=None, chunksize=70, echo=lambda _: None, **kwargs
    )["dimuon"]  # fmt: skip


def _on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich's switch: stderr is a terminal
    monkeypatch.setenv("TERM", "xterm-256color")


def _counts(text: str) -> set[str]:
    """The done/total figures the bar drew (colour codes removed)."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    return set(re.findall(r"(\d+)/(\d+) \[", plain))


@pytest.mark.parametrize("executor", ["dask", "iterative"])
def test_bar_names_channel_and_counts_chunks(
    small_catalogue: Path,
    dimuon_channel: Channel,
    dask_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    executor: str,
) -> None:
    _on_a_terminal(monkeypatch)
    on_dask = {"client": dask_client} if executor == "dask" else {"executor": executor}
    result = _run(small_catalogue, dimuon_channel, **on_dask)
    chunks = result.report["chunks"]["processed"]
    assert chunks > 20  # more than coffea's tree reduction merges at once: reduce tasks exist
    err = capsys.readouterr().err
    assert "dimuon" in err
    assert "chunk/s" in err
    # Every frame counts the chunks alone (no merge or shipping task); the last has all done.
    counts = _counts(err)
    assert counts
    assert {total for _, total in counts} == {str(chunks)}
    assert (str(chunks), str(chunks)) in counts


def test_no_bar_off_a_terminal_or_without_progress(
    small_catalogue: Path,
    dimuon_channel: Channel,
    dask_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    _run(small_catalogue, dimuon_channel, client=dask_client)
    _run(small_catalogue, dimuon_channel, executor="iterative")
    _on_a_terminal(monkeypatch)
    _run(small_catalogue, dimuon_channel, client=dask_client, progress=False)
    captured = capsys.readouterr()
    assert "chunk/s" not in captured.err + captured.out
