"""The dark_higgsstrahlung channel on small generated Belle samples."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import belleflow.generation.registry  # noqa: F401 - registers every generator
from belleflow.generation.signal_models.dark_higgsstrahlung import model_name
from belleflow.training.samples import make_sample, open_sample
from belleflow_channels import dark_higgsstrahlung as dh

POINTS = ((0.3, 4.0), (2.0, 6.0))
LAST = "equal_masses"


def _sample(tmp: Path, process: str, n: int, seed: int, **params: Any) -> Path:
    path = tmp / f"{process}_{seed}.root"
    return make_sample(path, process, n, machine="KEKB", parameters=params, seed=seed)


def _run(
    path: Path, kind: str = "signal", access_log: list[Any] | None = None, unblind: bool = True
) -> dict[str, Any]:
    events = open_sample(
        path, sample="s", kind=kind, machine="KEKB", experiment="Belle",
        access_log=access_log, unblind=unblind,
    )  # fmt: skip
    return dh.channel.make_processor().process(events)


@pytest.fixture(scope="module")
def signal_out(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[float, float], Any]:
    tmp = tmp_path_factory.mktemp("dh")
    return {(ap, hp): _run(_sample(tmp, model_name(ap), 300, 11, mass=hp)) for ap, hp in POINTS}


@pytest.mark.parametrize(("ap", "hp"), POINTS)
def test_peaks_at_generated_masses(signal_out: dict[Any, Any], ap: float, hp: float) -> None:
    hists = signal_out[(ap, hp)]["histograms"]
    for name, mass, sigma in (
        ("m_Ap", ap, dh.ap_resolution(ap) / np.sqrt(3.0)),
        ("m_hp", hp, dh.hp_resolution(hp)),
    ):
        h = hists[name][{"dataset": "s", "variation": "nominal"}]
        centres, values = h.axes[0].centers, h.values()
        near = np.abs(centres - mass) < 5 * sigma
        assert values[near].sum() > 0
        assert abs(np.average(centres[near], weights=values[near]) - mass) < sigma
    # The A'-window spectrum of the generated A' mass holds the h' peak.
    h = hists[dh._tag(ap)][{"dataset": "s", "variation": "nominal"}]
    assert h.values()[np.abs(h.axes[0].centers - hp) < 3 * dh.hp_resolution(hp)].sum() > 0


@pytest.mark.parametrize(("ap", "hp"), POINTS)
def test_efficiency_in_documented_range(signal_out: dict[Any, Any], ap: float, hp: float) -> None:
    cutflow = signal_out[(ap, hp)]["cutflow"]["s"]
    assert 0.2 < cutflow[LAST][0] / cutflow["all"][0] < 0.45  # docs: 0.25-0.40


def test_cutflow_never_rises(signal_out: dict[Any, Any]) -> None:
    for out in signal_out.values():
        counts = [v[0] for v in out["cutflow"]["s"].values()]
        assert all(b <= a for a, b in itertools.pairwise(counts))


def test_variations_present(signal_out: dict[Any, Any]) -> None:
    variations = set(signal_out[POINTS[0]]["histograms"]["mass_plane"].axes["variation"])
    expected = {"nominal", "pid_up", "pid_down", "tracking_up", "tracking_down",
                "momentum_scale_up", "momentum_scale_down"}  # fmt: skip
    assert expected <= variations


@pytest.mark.parametrize(("process", "n"), [("uubar", 6000), ("eeee", 6000)])
def test_backgrounds_rejected(tmp_path: Path, process: str, n: int) -> None:
    cutflow = _run(_sample(tmp_path, process, n, 5), kind="simulation")["cutflow"]["s"]
    assert cutflow[LAST][0] == 0  # background-free, as in the paper


def test_reads_only_needed_columns(tmp_path: Path) -> None:
    log: list[Any] = []
    _run(_sample(tmp_path, model_name(1.0), 100, 3, mass=4.0), access_log=log)
    branches = {str(b) for b in log}
    assert not any(b.startswith(("Photon_", "MCParticle_", "V0_")) for b in branches), branches
