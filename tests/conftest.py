"""Shared fixtures: small belleflow ntuples made on the fly, a Dask client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

from belleflow.ntuple import COLLECTIONS, FileMetadata, write_ntuple

MakeNtuple = Callable[..., Path]


def random_events(n_events: int, *, seed: int = 1, simulation: bool = True) -> dict[str, Any]:
    """Events with every branch of the format and random, structurally valid content.

    Cross-reference indices point inside their target collections (or are -1).
    """
    rng = np.random.default_rng(seed)
    counts = {
        "Track": rng.integers(0, 7, n_events),
        "Photon": rng.integers(0, 5, n_events),
        "V0": rng.integers(0, 2, n_events),
        "MCParticle": rng.integers(2, 9, n_events),
    }
    content: dict[str, Any] = {
        "__experiment__": np.full(n_events, 26, np.int32),
        "__run__": np.full(n_events, 1, np.int32),
        "__event__": np.arange(n_events, dtype=np.uint32),
        "__production__": np.zeros(n_events, np.int32),
        "__weight__": np.ones(n_events),
        "Ecms": np.full(n_events, 10.58),
        "beamE": np.full(n_events, 11.0),
        "beamPx": np.full(n_events, 0.457),
        "beamPy": np.zeros(n_events),
        "beamPz": np.full(n_events, 3.0),
    }
    for name, spec in COLLECTIONS.items():
        total = int(counts[name].sum())
        columns = {}
        for branch in spec:
            if branch.dtype.startswith("int"):
                values = rng.integers(-1, 2, total)
            else:
                values = rng.normal(size=total)
            columns[branch.name] = ak.unflatten(values.astype(branch.dtype), counts[name])
        columns["E"] = ak.unflatten(rng.uniform(5.0, 6.0, total), counts[name])
        content[name] = ak.zip(columns, depth_limit=2)
    local = ak.local_index(content["Track"].px)
    # V0 daughters: the first two tracks when there are two, else -1.
    n_tracks = ak.num(content["Track"].px)
    v0 = content["V0"]
    has_two = ak.broadcast_arrays(n_tracks >= 2, v0.chiProb)[0]
    content["V0"] = ak.with_field(v0, ak.where(has_two, 0, -1), "track0")
    content["V0"] = ak.with_field(content["V0"], ak.where(has_two, 1, -1), "track1")
    n_mc = ak.num(content["MCParticle"].PDG)
    content["Track"] = ak.with_field(
        content["Track"],
        ak.where(local < ak.broadcast_arrays(n_mc, local)[0], local, -1),
        "mcIndex",
    )
    mc_local = ak.local_index(content["MCParticle"].PDG)
    content["MCParticle"] = ak.with_field(content["MCParticle"], mc_local - 1, "mother")
    content["Photon"] = ak.with_field(
        content["Photon"], ak.zeros_like(content["Photon"].mcIndex) - 1, "mcIndex"
    )
    if not simulation:
        del content["MCParticle"]
    return content


@pytest.fixture
def events_maker() -> Callable[..., dict[str, Any]]:
    """The :func:`random_events` builder, for tests that compare with file content."""
    return random_events


@pytest.fixture
def make_ntuple(tmp_path: Path) -> MakeNtuple:
    """Write a small valid ntuple into ``tmp_path`` and return its path."""

    def make(
        name: str = "sample.root",
        n_events: int = 200,
        *,
        seed: int = 1,
        simulation: bool = True,
        **metadata: Any,
    ) -> Path:
        fields: dict[str, Any] = {
            "sample": "test_sample",
            "process": "mumu" if simulation else "data",
            "kind": "simulation" if simulation else "data",
            "experiment": "Belle II",
            "machine": "SuperKEKB",
            "ecms": 10.58,
            "n_events": n_events,
        }
        fields.update(metadata)
        events = random_events(n_events, seed=seed, simulation=simulation)
        return write_ntuple(tmp_path / name, events, FileMetadata(**fields))

    return make


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A small in-process-friendly Dask cluster shared by the session (2 workers, 1 thread)."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit="2GiB",
            dashboard_address=":0",  # a random port: 8787 may be taken
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
