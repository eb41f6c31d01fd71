"""The four-muon channel: peak, efficiency, background rejection, cutflow, columns read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from belleflow.limits import resolve_models
from belleflow.processor import DeclaredProcessor
from belleflow.training.evaluate import load_model
from belleflow.training.samples import make_sample, open_sample

# The channel package lives in processors/ (installed as belleflow_channels).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "processors"))
four_muon = pytest.importorskip("belleflow_channels.four_muon")

SIGNAL_MASS = 2.0
N_SIGNAL = 600
N_BACKGROUND = 1500


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("four_muon")
    return {
        "signal": make_sample(
            root / "signal.root",
            "zprime_lmu_ltau",
            N_SIGNAL,
            parameters={"mass": SIGNAL_MASS},
            seed=11,
        ),
        "mumumumu": make_sample(root / "mumumumu.root", "mumumumu", N_BACKGROUND, seed=12),
        "tautau": make_sample(root / "tautau.root", "tautau", N_BACKGROUND, seed=13),
    }


@pytest.fixture(scope="module")
def outputs(samples: dict[str, Path]) -> dict[str, Any]:
    processor = four_muon.channel.make_processor()
    kinds = {"signal": "signal"}
    return {
        name: processor.process(open_sample(path, kind=kinds.get(name, "simulation")))
        for name, path in samples.items()
    }


def _cutflow(output: dict[str, Any]) -> dict[str, float]:
    (cuts,) = output["cutflow"].values()
    return {cut: float(v[0]) for cut, v in cuts.items()}


def _nominal(output: dict[str, Any]) -> Any:
    return output["histograms"]["m_mumu"][{"dataset": 0, "variation": "nominal"}]


def test_signal_peak_at_generated_mass(outputs: dict[str, Any], samples: dict[str, Path]) -> None:
    h = _nominal(outputs["signal"])
    centres = h.axes[0].centers
    sigma = four_muon.RESOLUTION(SIGNAL_MASS)
    assert abs(centres[np.argmax(h.values())] - SIGNAL_MASS) < 2 * sigma
    selection = DeclaredProcessor(four_muon.channel, classify=False)
    _, m, truth = selection.training_candidates(open_sample(samples["signal"]))
    assert abs(np.median(m[truth]) - SIGNAL_MASS) < 0.3 * sigma
    core = m[truth][abs(m[truth] - SIGNAL_MASS) < 3 * sigma]
    assert 0.6 * sigma < np.std(core) < 1.2 * sigma


def test_signal_efficiency_in_documented_range(outputs: dict[str, Any]) -> None:
    flow = _cutflow(outputs["signal"])
    # docs/channels/four_muon.md at 2 GeV: 0.60 after the preselection, 0.58 after the classifier
    assert 0.50 < flow["no_extra_energy"] / flow["all"] < 0.70
    assert 0.45 < flow["candidate"] / flow["all"] < 0.70


def test_backgrounds_fall(outputs: dict[str, Any]) -> None:
    tautau = _cutflow(outputs["tautau"])
    assert tautau["candidate"] <= 2  # documented: below 1e-3 of tau pairs pass
    mumu = outputs["mumumumu"]
    flow = _cutflow(mumu)
    # The irreducible four-muon background: the classifier keeps under a third of its candidates.
    n_pairs = float(_nominal(mumu).sum().value)
    assert n_pairs < 0.35 * 4 * flow["no_extra_energy"]
    assert flow["candidate"] / flow["all"] < 0.5


def test_cutflow_never_rises(outputs: dict[str, Any]) -> None:
    for output in outputs.values():
        (cuts,) = output["cutflow"].values()
        counts = np.array(list(cuts.values()))
        assert np.all(np.diff(counts[:, 0]) <= 0)
        assert np.all(np.diff(counts[:, 1]) <= 1e-9)


def test_systematic_variations(outputs: dict[str, Any]) -> None:
    h = outputs["signal"]["histograms"]["m_mumu"]
    variations = set(h.axes["variation"])
    expected = {"nominal"} | {
        f"{s}_{d}"
        for s in ("pid", "tracking", "momentum_scale", "photon_energy_scale")
        for d in ("up", "down")
    }
    assert variations == expected

    def total(v: str) -> float:
        return float(h[{"dataset": 0, "variation": v}].sum().value)

    assert total("pid_up") > total("nominal") > total("pid_down")
    assert total("tracking_up") > total("nominal") > total("tracking_down")
    assert total("momentum_scale_up") == pytest.approx(total("nominal"), rel=0.02)


def test_reads_only_needed_columns(samples: dict[str, Path]) -> None:
    log: list[Any] = []
    four_muon.channel.make_processor().process(open_sample(samples["signal"], access_log=log))
    branches = {entry.branch for entry in log}
    assert branches == {
        "__weight__",
        "beamE",
        "beamPx",
        "beamPy",
        "beamPz",
        "Photon_px",
        "Photon_py",
        "Photon_pz",
        "Photon_E",
        "Track_px",
        "Track_py",
        "Track_pz",
        "Track_E",
        "Track_charge",
        "Track_dr",
        "Track_dz",
        "Track_muonID",
        "Track_electronID",
    }


def test_data_is_blind_in_search_range(samples: dict[str, Path]) -> None:
    processor = four_muon.channel.make_processor()
    out = processor.process(open_sample(samples["signal"], kind="data", process="data"))
    raw = out["histograms"]["m_mumu"]
    if len(raw.axes["dataset"]) == 0:  # nothing outside the windows was filled at all
        return
    h = raw[{"dataset": 0, "variation": "nominal"}]
    low, high = four_muon.MASS_RANGE
    inside = (h.axes[0].edges[:-1] >= low) & (h.axes[0].edges[1:] <= high)
    assert h.values()[inside].sum() == 0


def test_shipped_classifier_matches_features() -> None:
    clf = load_model(four_muon.channel.classifier.model)
    assert clf.features == four_muon.FEATURES
    assert clf.document["channel"] == "four_muon"
    assert 0.0 < clf.threshold < 1.0


def test_bins_finer_than_a_third_of_the_resolution() -> None:
    (histogram,) = four_muon.channel.histograms
    edges = histogram.axes[0].edges
    widths = np.diff(edges)
    sigma = np.array([four_muon.RESOLUTION(m) for m in edges[:-1]])
    assert np.all(widths <= sigma / 3 + 1e-12)


def test_statistical_model() -> None:
    models = resolve_models(four_muon.channel)
    assert set(models) == {"zprime_lmu_ltau", "muonphilic_scalar"}
    for name, model in models.items():
        assert model.signal_model == name
        assert model.cl == 0.9
        assert model.mass_range == four_muon.MASS_RANGE
        assert model.units == "sigma_B_fb"
        masses = model.hypothesis_masses()
        assert masses[0] == pytest.approx(0.212)
        assert masses[-1] <= 9.0
