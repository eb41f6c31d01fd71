"""Blinding on the run side: no output counts data after the signal-region cut."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest

from belleflow.engine import run_channels
from belleflow.engine.blinding import truncate_cutflow
from belleflow.processor import Channel


def run(catalogue: Path, channel: Channel, out: Path | None, **kwargs: Any) -> Any:
    lines: list[str] = []
    kwargs.setdefault("executor", "iterative")
    result = run_channels(
        [channel], catalogue=catalogue, out=out, echo=lines.append, progress=False, **kwargs
    )
    return result["dimuon"], lines


@pytest.mark.parametrize("signal_region_cut", [None, "opposite_charge", "two_muons"])
def test_blinded_data_cutflow_stops_before_the_signal_region(
    small_catalogue: Path, dimuon_channel: Channel, tmp_path: Path, signal_region_cut: str | None
) -> None:
    channel = dataclasses.replace(dimuon_channel, signal_region_cut=signal_region_cut)
    cuts = ["all", "two_muons", "opposite_charge"]
    kept = cuts[: cuts.index(signal_region_cut or cuts[-1])]
    reason = "approved by the test on 2026-12-03"
    unblinded, _ = run(small_catalogue, channel, None, unblind=reason)
    assert unblinded.report["blinding"] == {
        "blinded": False,
        "unblind_reason": reason,
        "signal_region_cut": signal_region_cut or "(the last cut)",
        "data_cutflow": "complete",
    }
    assert list(unblinded.cutflow["b2data"]) == cuts
    signal_region = [v[0] for c, v in unblinded.cutflow["b2data"].items() if c not in kept]

    # An interrupted blinded run (a quick look) stores chunks; then the complete run.
    out = tmp_path / "out"
    quick, _ = run(small_catalogue, channel, out, chunksize=50, maxchunks=2)  # data and mumu
    stored = [json.loads(p.read_text()) for p in (out / ".checkpoints").rglob("*.json")]
    assert any("b2data" in chunk["out"]["cutflow"] for chunk in stored)
    # No stored data chunk holds a count from the signal-region cut on.
    for chunk in stored:
        for cut in cuts[len(kept) :]:
            values = chunk["out"]["cutflow"].get("b2data", {}).get(cut, {"__ndarray__": []})
            assert all(math.isnan(v) for v in values["__ndarray__"])
    blinded, lines = run(small_catalogue, channel, out, chunksize=50, resume=True)
    assert blinded.complete
    assert blinded.report["chunks"]["resumed"] == len(stored)
    report = json.loads((out / "dimuon" / "report.json").read_text())
    assert report["blinding"]["blinded"] is True
    assert report["configuration"]["unblind_reason"] is None
    for cutflow in (blinded.cutflow, report["cutflow"], quick.cutflow):
        assert list(cutflow["b2data"]) == kept
        assert list(cutflow["b2mumu"]) == cuts  # simulation is never blinded
    for cut in kept:
        assert blinded.cutflow["b2data"][cut] == unblinded.cutflow["b2data"][cut]
    # Nothing printed carries the signal-region cut or its count.
    for line in lines:
        assert not any(cut in line for cut in cuts[len(kept) :])
    assert signal_region


def test_truncation_refuses_an_unknown_cut() -> None:
    with pytest.raises(ValueError, match="'window' is not a cut of the cutflow"):
        truncate_cutflow({"all": 1, "two": 2}, "window")


def test_unblinding_needs_a_reason(small_catalogue: Path, dimuon_channel: Channel) -> None:
    with pytest.raises(ValueError, match="unblinding needs a reason"):
        run(small_catalogue, dimuon_channel, None, unblind="  ")
