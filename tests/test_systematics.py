"""Tests of the shared systematic variations."""

from __future__ import annotations

from typing import Any

import awkward as ak
import hist
import numpy as np
import pytest
import vector

from belleflow import systematics
from belleflow.processor import ChannelProcessor, ChunkContext

vector.register_awkward()


def _tracks() -> ak.Array:
    return ak.Array(
        [
            [
                {"px": 2.0, "py": 0.0, "pz": 0.0, "E": 2.005, "charge": 1},
                {"px": 0.5, "py": 0.0, "pz": 0.0, "E": 0.52, "charge": -1},
            ],
            [{"px": 0.0, "py": 3.0, "pz": 0.0, "E": 3.003, "charge": 1}],
        ],
        with_name="Momentum4D",
    )


def test_pid_weights_multiply_per_identified_track() -> None:
    sizes = systematics.SystematicSizes(pid_high_p=0.01, pid_low_p=0.03)
    w = systematics.pid_weights(_tracks(), sizes=sizes)
    assert w["pid_up"].tolist() == pytest.approx([1.01 * 1.03, 1.01])
    assert w["pid_down"].tolist() == pytest.approx([0.99 * 0.97, 0.99])
    only_first = ak.Array([[True, False], [False]])
    w = systematics.pid_weights(_tracks(), identified=only_first, sizes=sizes, name="muon_id")
    assert w["muon_id_up"].tolist() == pytest.approx([1.01, 1.0])


def test_tracking_weights_from_counts_or_collections() -> None:
    sizes = systematics.SystematicSizes(tracking=0.01)
    w = systematics.tracking_weights(_tracks(), sizes=sizes)
    assert w["tracking_up"].tolist() == pytest.approx([1.01**2, 1.01])
    assert systematics.tracking_weights(4, sizes=sizes)["tracking_down"] == pytest.approx(0.99**4)
    both = systematics.weight_variations(pid=_tracks(), tracking=_tracks())
    assert sorted(both) == ["pid_down", "pid_up", "tracking_down", "tracking_up"]


def test_momentum_scale_keeps_mass_and_fields() -> None:
    tracks = _tracks()
    scaled = systematics.scale_momenta(tracks, 1.001)
    assert ak.all(abs(scaled.mass - tracks.mass) < 1e-9)
    assert ak.flatten(scaled.px).tolist() == pytest.approx([2.002, 0.5005, 0.0])
    assert scaled.charge.tolist() == tracks.charge.tolist()


def test_photon_energy_scale() -> None:
    photons = ak.Array([[{"px": 0.0, "py": 0.0, "pz": 1.0, "E": 1.0}]], with_name="Momentum4D")
    assert float(systematics.scale_energy(photons, 1.005).E[0, 0]) == pytest.approx(1.005)


def test_shift_variations_yield_each_direction() -> None:
    photons = ak.Array([[{"px": 0.0, "py": 0.0, "pz": 1.0, "E": 1.0}]], with_name="Momentum4D")
    out = list(systematics.shift_variations(_tracks(), photons))
    assert [name for name, _, _ in out] == [
        "momentum_scale_up",
        "momentum_scale_down",
        "photon_energy_scale_up",
        "photon_energy_scale_down",
    ]
    assert out[0][2] is photons
    assert out[2][1] is not None
    assert float(out[0][1].px[0, 0]) == pytest.approx(
        2.0 * (1 + systematics.DEFAULTS.momentum_scale)
    )
    assert list(systematics.shift_variations()) == []


class _Toy(ChannelProcessor):
    """A processor whose chunk context the test fills by hand."""

    histograms = {"x": (hist.axis.Regular(4, 0.0, 4.0, name="x"),)}  # noqa: RUF012

    def process_chunk(self, events: Any, chunk: ChunkContext) -> None:
        systematics.fill_variations(chunk, "x", {}, x=np.zeros(len(events)))


class _Events:
    def __init__(self, n: int) -> None:
        self.metadata = {"dataset": "s", "kind": "simulation", "weight": 1.0}
        self._weights = np.ones(n)
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, key: str) -> np.ndarray:  # only __weight__ is read
        assert key == "__weight__"
        return self._weights


def test_fill_variations_fills_nominal_and_each_weight() -> None:
    chunk = ChunkContext(_Toy(), _Events(3))
    values = np.array([0.5, 1.5, 2.5])
    weights = {"pid_up": np.array([1.1, 1.1, 1.1]), "pid_down": np.array([0.9, 0.9, 0.9])}
    systematics.fill_variations(chunk, "x", weights, x=values)
    h = chunk.histograms["x"]
    assert h[{"dataset": "s", "variation": "nominal"}].sum().value == pytest.approx(3.0)
    assert h[{"dataset": "s", "variation": "pid_up"}].sum().value == pytest.approx(3.3)
    assert h[{"dataset": "s", "variation": "pid_down"}].sum().value == pytest.approx(2.7)
