"""Shared pieces of the integration tests (real Slurm, XRootD; .ci/run starts them)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from belleflow.engine import load_histograms

CHANNEL_MODULE = """
import awkward as ak
import hist
from belleflow.processor import Channel, ChannelProcessor


class Dimuon(ChannelProcessor):
    histograms = {"m_mumu": (hist.axis.Regular(30, 8.0, 13.0, name="m_mumu"),)}

    def process_chunk(self, events, chunk):
        muons = events.Track[events.Track.muonID > 0.0]
        chunk.cut("two_muons", ak.num(muons) >= 2)
        pair = muons[chunk.cutflow.selection][:, 0] + muons[chunk.cutflow.selection][:, 1]
        chunk.fill("m_mumu", m_mumu=pair.mass)


channel = Channel("dimuon", "integration test", "lowmult", ("Belle II",), Dimuon)
"""


def catalogue_text(data_files: list[str], mc_files: list[str]) -> str:
    """A small catalogue listing explicit files (paths or URLs)."""
    return f"""\
name: integration
data_root: .
data:
  - {{name: b2data, experiment: Belle II, machine: SuperKEKB, ecms: 10.58, luminosity: 0.01,
     luminosity_source: test, files: {data_files}}}
simulation:
  - {{name: b2mumu, process: mumu, stands_for: [b2data], events: 600, files: {mc_files}}}
skims:
  - {{name: lowmult, processes: [mumu]}}
"""


@pytest.fixture
def channel_file(tmp_path: Path) -> str:
    """``file.py:channel`` spec of the integration test channel."""
    path = tmp_path / "dimuon_channel.py"
    path.write_text(CHANNEL_MODULE)
    return f"{path}:channel"


def belleflow_run(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    """Run ``belleflow run`` in a subprocess (the real command line)."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from belleflow.cli import main; main()",
            "run",
            "--no-progress",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "BELLEFLOW_CACHE": str(cache)},
    )


def assert_same_histograms(a: Path, b: Path) -> None:
    """The histograms.json of two runs agree bin by bin (values and variances)."""
    ha, hb = load_histograms(a), load_histograms(b)
    assert sorted(ha) == sorted(hb)
    for name in ha:
        assert ha[name].axes == hb[name].axes
        np.testing.assert_array_equal(ha[name].values(flow=True), hb[name].values(flow=True))
        np.testing.assert_array_equal(ha[name].variances(flow=True), hb[name].variances(flow=True))


MakeFiles = Callable[[Path], tuple[list[str], list[str]]]


@pytest.fixture
def make_files(make_ntuple: Callable[..., Path]) -> MakeFiles:
    """Write 2 data and 2 simulation files into a folder; return their paths."""

    def make(folder: Path) -> tuple[list[str], list[str]]:
        out: tuple[list[str], list[str]] = ([], [])
        for kind, simulation, target in (("data", False, out[0]), ("mc", True, out[1])):
            for i in range(2):
                path = make_ntuple(
                    f"{kind}{i}.root", n_events=300, seed=11 + i, simulation=simulation
                )
                moved = folder / path.name
                folder.mkdir(parents=True, exist_ok=True)
                path.replace(moved)
                moved.chmod(0o644)
                target.append(str(moved))
        return out

    return make


class Helpers:
    """The helpers above, as a fixture (test modules cannot import a conftest)."""

    catalogue_text = staticmethod(catalogue_text)
    belleflow_run = staticmethod(belleflow_run)
    assert_same_histograms = staticmethod(assert_same_histograms)


@pytest.fixture
def helpers() -> type[Helpers]:
    """Catalogue writer, ``belleflow run`` in a subprocess, histogram comparison."""
    return Helpers
