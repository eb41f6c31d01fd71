"""The gamma_alp channel on small generated samples (generator -> detector -> ntuple -> processor)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import belleflow.generation.registry  # noqa: F401 - registers every generator
from belleflow.training.samples import make_sample, open_sample
from belleflow_channels import gamma_alp


def _sample(tmp: Path, process: str, n: int, seed: int, **params: Any) -> Path:
    path = tmp / f"{process}_{seed}.root"
    return make_sample(path, process, n, machine="SuperKEKB", parameters=params, seed=seed)


def _run(
    path: Path, kind: str = "signal", access_log: list[Any] | None = None, unblind: bool = True
) -> dict[str, Any]:
    events = open_sample(
        path, sample="s", kind=kind, machine="SuperKEKB", experiment="Belle II",
        access_log=access_log, unblind=unblind,
    )  # fmt: skip
    return gamma_alp.channel.make_processor().process(events)


@pytest.fixture(scope="module")
def signal_out(tmp_path_factory: pytest.TempPathFactory) -> dict[float, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("alp")
    return {m: _run(_sample(tmp, "alp_photon", 400, 7, mass=m)) for m in (0.45, 8.0)}


@pytest.mark.parametrize("mass", [0.45, 8.0])
def test_peak_at_generated_mass(signal_out: dict[float, dict[str, Any]], mass: float) -> None:
    h = signal_out[mass]["histograms"]["m_alp"][{"dataset": "s", "variation": "nominal"}]
    centres, values = h.axes[0].centers, h.values()
    sigma = gamma_alp.RESOLUTION(mass)
    near = np.abs(centres - mass) < 5 * sigma
    peak = np.average(centres[near], weights=values[near])
    assert abs(peak - mass) < sigma
    # Most selected events have one candidate within 2 sigma.
    cutflow = signal_out[mass]["cutflow"]["s"]
    inside = values[np.abs(centres - mass) < 2 * sigma].sum()
    assert inside > 0.6 * cutflow["momentum_balance"][0]


@pytest.mark.parametrize("mass", [0.45, 8.0])
def test_efficiency_in_documented_range(
    signal_out: dict[float, dict[str, Any]], mass: float
) -> None:
    cutflow = signal_out[mass]["cutflow"]["s"]
    efficiency = cutflow["momentum_balance"][0] / cutflow["all"][0]
    assert 0.55 < efficiency < 0.75  # docs: 0.63-0.68 on the grid


def test_cutflow_never_rises(signal_out: dict[float, dict[str, Any]]) -> None:
    for out in signal_out.values():
        counts = [v[0] for v in out["cutflow"]["s"].values()]
        assert all(b <= a for a, b in itertools.pairwise(counts))


def test_variations_present(signal_out: dict[float, dict[str, Any]]) -> None:
    variations = set(signal_out[8.0]["histograms"]["m_alp"].axes["variation"])
    assert {"nominal", "photon_energy_scale_up", "photon_energy_scale_down",
            "photon_efficiency_up", "photon_efficiency_down"} <= variations  # fmt: skip


def test_gamma_gamma_background_rejected(tmp_path: Path) -> None:
    out = _run(_sample(tmp_path, "gg", 20000, 3), kind="simulation")
    cutflow = out["cutflow"]["s"]
    assert cutflow["momentum_balance"][0] / cutflow["all"][0] < 0.03  # docs: 1.8 %


def test_bhabha_background_rejected(tmp_path: Path) -> None:
    out = _run(_sample(tmp_path, "ee", 5000, 4), kind="simulation")
    assert out["cutflow"]["s"]["momentum_balance"][0] == 0


def test_reads_only_needed_columns(tmp_path: Path) -> None:
    log: list[Any] = []
    _run(_sample(tmp_path, "alp_photon", 200, 5, mass=2.0), access_log=log)
    branches = {str(b) for b in log}
    assert not any(b.startswith(("Track_", "MCParticle_", "V0_")) for b in branches), branches


def test_data_blinded_in_search_range(tmp_path: Path) -> None:
    path = _sample(tmp_path, "alp_photon", 200, 6, mass=2.0)
    for unblind in (False, True):
        out = _run(path, kind="data", unblind=unblind)
        h = out["histograms"]["m_alp"][{"dataset": "s", "variation": "nominal"}]
        centres = h.axes[0].centers
        inside = (centres >= 0.2) & (centres < 9.7)
        assert (h.values()[inside].sum() > 0) == unblind
