"""Fixtures of the engine tests: a dimuon test channel and small catalogues."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import cloudpickle
import hist
import pytest
import uproot

from belleflow.processor import Channel, ChannelProcessor, ChunkContext

#: Events per fixture file: small, but several chunks at chunksize 70.
N_EVENTS = 200


class DimuonProcessor(ChannelProcessor):
    """Test channel: invariant mass of the first two muon candidates."""

    histograms = {  # noqa: RUF012 - class-level declaration, never mutated
        "m_mumu": (hist.axis.Regular(40, 8.0, 13.0, name="m_mumu", label="m [GeV]"),),
        "m_vs_ntrack": (
            hist.axis.Regular(10, 8.0, 13.0, name="m_mumu"),
            hist.axis.Integer(0, 8, name="ntrack"),
        ),
    }
    signal_windows = {"m_mumu": ((10.0, 10.5),)}  # noqa: RUF012 - declaration

    def process_chunk(self, events: Any, chunk: ChunkContext) -> None:
        tracks = events.Track
        muons = tracks[tracks.muonID > 0.0]
        chunk.cut("two_muons", ak.num(muons) >= 2)
        charges = ak.pad_none(muons.charge, 2)[:, :2]
        product = ak.fill_none(charges[:, 0] * charges[:, 1], 0)
        opposite = chunk.cut("opposite_charge", product < 0)
        selected = muons[opposite]
        pair = selected[:, 0] + selected[:, 1]
        chunk.fill("m_mumu", m_mumu=pair.mass)
        chunk.fill("m_vs_ntrack", m_mumu=pair.mass, ntrack=ak.num(tracks[opposite]))
        chunk.fill("m_mumu", variation="muon_id_up", m_mumu=pair.mass, weight=1.0 + 0.0 * pair.mass)


DIMUON = Channel(
    name="dimuon",
    description="test channel: dimuon mass",
    skim="lowmult",
    experiments=("Belle II",),
    processor_class=DimuonProcessor,
)

# Workers (loky, Dask) cannot import this conftest by name: ship it by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

CATALOGUE = """\
name: engine-test
data_root: .
scale: 1.0
data:
  - name: b2data
    experiment: Belle II
    machine: SuperKEKB
    ecms: 10.58
    luminosity: 0.01
    luminosity_source: test
  - name: b1data
    experiment: Belle
    machine: KEKB
    ecms: 10.58
    luminosity: 0.01
    luminosity_source: test
simulation:
  - {name: b2mumu, process: mumu, stands_for: [b2data], events: 651}
  - {name: b1mumu, process: mumu, stands_for: [b1data], events: 200}
  - {name: b2tautau, process: tautau, stands_for: [b2data], events: 417}
skims:
  - {name: lowmult, processes: [mumu, tautau], channels: []}
"""


@pytest.fixture
def dimuon_channel() -> Channel:
    """The dimuon test channel."""
    return DIMUON


@pytest.fixture
def small_catalogue(make_ntuple: Callable[..., Path], tmp_path: Path) -> Path:
    """A catalogue of 2 data + 5 simulation files (Belle II) plus Belle files."""
    layout = {
        "data/b2data": (2, False),
        "data/b1data": (1, False),
        "mc/b2mumu": (3, True),
        "mc/b1mumu": (1, True),
        "mc/b2tautau": (2, True),
    }
    seed = 1
    for folder, (n_files, simulation) in layout.items():
        (tmp_path / folder).mkdir(parents=True)
        for i in range(n_files):
            seed += 1
            # As the production writes them: the sample's name and the file's
            # number; the simulation's events add up to the catalogue's.
            make_ntuple(
                f"{folder}/f{i}.root",
                n_events=N_EVENTS + 17 * i,
                seed=seed,
                simulation=simulation,
                sample=folder.split("/")[1],
                generator={"index": i, "n_files": n_files, "production_version": 1},
            )
    path = tmp_path / "catalogue.yaml"
    path.write_text(CATALOGUE, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own file metadata cache."""
    monkeypatch.setenv("BELLEFLOW_CACHE", str(tmp_path / "cache"))


#: A channel module file as users write them: slow on demand, and able to
#: kill its own worker once (environment variables reach Dask workers).
SLOW_CHANNEL = """
import os
import signal
import time
from pathlib import Path

import awkward as ak
import hist
from belleflow.processor import Channel, ChannelProcessor


class Slow(ChannelProcessor):
    histograms = {"m_mumu": (hist.axis.Regular(30, 8.0, 13.0, name="m_mumu"),)}

    def process_chunk(self, events, chunk):
        time.sleep(float(os.environ.get("SLOW_CHANNEL_SECONDS", "0")))
        kill = os.environ.get("SLOW_CHANNEL_KILL_MARKER")
        if kill and not Path(kill).exists():
            # A worker dies mid-chunk, once: as from the OOM killer or a node failure.
            Path(kill).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        muons = events.Track[events.Track.muonID > 0.0]
        two = chunk.cut("two_muons", ak.num(muons) >= 2)
        pair = muons[two][:, 0] + muons[two][:, 1]
        chunk.fill("m_mumu", m_mumu=pair.mass)


channel = Channel("slow", "test: slow dimuon", "lowmult", ("Belle II",), Slow)
"""


#: The ``belleflow`` command line, in a subprocess.
CLI = "from belleflow.cli import main; main()"


@pytest.fixture
def slow_channel(tmp_path: Path) -> str:
    module = tmp_path / "slow_channel.py"
    module.write_text(SLOW_CHANNEL, encoding="utf-8")
    return f"{module}:channel"


def _belleflow(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # its own process group, like a job in a terminal
    )


@pytest.fixture
def belleflow() -> Callable[..., subprocess.Popen[str]]:
    """Start ``belleflow ARGS`` in a subprocess of its own process group (as in a terminal)."""
    return _belleflow


def _corrupt_basket(path: Path, branch: str = "Track_px") -> None:
    """Overwrite the compressed payload of a branch's basket: the header stays valid."""
    with uproot.open(path) as file:
        b = file["events"][branch]
        seek, size = int(b.member("fBasketSeek")[0]), int(b.member("fBasketBytes")[0])
    data = bytearray(path.read_bytes())
    data[seek + 100 : seek + size - 8] = b"\xa5" * (size - 108)
    path.write_bytes(bytes(data))


@pytest.fixture
def corrupt_basket() -> Callable[..., None]:
    """Damage one basket of a file (``corrupt_basket(path, branch="Track_px")``)."""
    return _corrupt_basket
