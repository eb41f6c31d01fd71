"""Shipped classifiers: ONNX model and record round trip, verification, caching."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from belleflow.training.evaluate import (
    Classifier,
    ClassifierError,
    clear_cache,
    load_model,
    shipped_classifier,
)
from belleflow.training.trainer import (
    TrainedModel,
    TrainingSpec,
    fit_gradient_boosting,
    fit_mlp,
    to_onnx,
    write_classifier,
)

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "processors" / "belleflow_channels" / "models"


def _data(n: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] ** 2 + 0.3 * rng.normal(size=n)) > 0.5
    return x, y, rng.uniform(0.5, 2.0, n)


def _save(tmp_path: Path, model: Any, name: str = "toy-v1.json") -> Path:
    onnx = to_onnx(model, 3)
    trained = TrainedModel(
        onnx, "gradient_boosting", {"gradient_boosting": 0.9}, 0.5, 0.8, 0.9, 1, 1, 1
    )
    return write_classifier(
        tmp_path / name,
        trained,
        channel="toy",
        spec=TrainingSpec(),
        features=("a", "b", "c"),
        training={"samples": []},
    )


@pytest.fixture(scope="module")
def boosted() -> Any:
    x, y, w = _data()
    x[::17, 1] = np.nan  # missing values follow the learned direction
    return fit_gradient_boosting(x, y, w)


@pytest.fixture
def saved(tmp_path: Path, boosted: Any) -> Path:
    return _save(tmp_path, boosted)


def test_gradient_boosting_round_trip_matches_xgboost(saved: Path, boosted: Any) -> None:
    x, _, _ = _data()
    x[::11, 1] = np.nan
    clf = load_model(saved)
    # XGBoost evaluates in float32 as the ONNX tree ensemble does: equal to float32 rounding.
    np.testing.assert_allclose(clf.predict(x), boosted.predict_proba(x)[:, 1], rtol=0, atol=3e-7)
    assert clf.features == ("a", "b", "c")
    assert clf.threshold == 0.5
    assert clf.document["model"]["kind"] == "gradient_boosting"
    assert 1 <= boosted.best_iteration < 400  # early stopping kept only the useful trees


def test_mlp_round_trip_matches_sklearn(tmp_path: Path) -> None:
    x, y, w = _data()
    model = fit_mlp(x, y, w)
    clf = load_model(_save(tmp_path, model))
    np.testing.assert_allclose(clf.predict(x), model.predict_proba(x)[:, 1], rtol=0, atol=1e-12)


def test_record_holds_the_working_point_and_provenance(saved: Path) -> None:
    record = json.loads(saved.read_text())
    assert record["working_point"] == {
        "signal_efficiency_target": 0.8,
        "signal_efficiency": 0.8,
        "background_rejection": 0.9,
    }
    assert record["model"]["file"] == "toy-v1.onnx"
    assert record["model"]["bytes"] == (saved.parent / "toy-v1.onnx").stat().st_size
    assert {"xgboost", "onnxruntime", "belleflow"} <= record["training"]["libraries"].keys()


def test_modified_model_is_rejected(saved: Path) -> None:
    model = saved.with_suffix(".onnx")
    data = bytearray(model.read_bytes())
    data[-1] ^= 1
    model.write_bytes(bytes(data))
    with pytest.raises(ClassifierError, match=r"toy-v1.onnx: sha256 .* `belleflow train toy"):
        load_model(saved)


def test_unreadable_model_is_an_error(saved: Path) -> None:
    model = saved.with_suffix(".onnx")
    model.write_bytes(b"not a model")
    record = json.loads(saved.read_text())
    record["model"]["sha256"] = hashlib.sha256(
        b"not a model"
    ).hexdigest()  # the record agrees: the bytes are not ONNX
    saved.write_text(json.dumps(record))
    with pytest.raises(ClassifierError, match="onnxruntime cannot load it"):
        load_model(saved)


@pytest.mark.parametrize(
    ("content", "match"),
    [("{not json", "not a JSON classifier record"), ('{"format_version": 1}', "not a belleflow")],
)
def test_corrupt_record_is_an_error(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "four_muon-v1.json"
    path.write_text(content)
    with pytest.raises(ClassifierError, match=rf"{match}.*`belleflow train four_muon --install`"):
        load_model(path)


def test_missing_model_file_is_an_error(saved: Path) -> None:
    saved.with_suffix(".onnx").unlink()
    with pytest.raises(FileNotFoundError, match=r"toy-v1.onnx is missing: run `belleflow train"):
        load_model(saved)


def test_missing_shipped_classifier_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"run `belleflow train four_muon --install`"):
        shipped_classifier(tmp_path / "four_muon-v1.json", "four_muon")


def test_shipped_classifier_is_loaded_once(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_cache()
    first = shipped_classifier(saved, "toy")

    def no_file_access(*args: Any, **_: Any) -> Any:
        msg = f"file access: {args}"
        raise AssertionError(msg)

    with monkeypatch.context() as patch:
        for name in ("stat", "open", "read_bytes", "read_text", "is_file", "exists"):
            patch.setattr(Path, name, no_file_access)
        patch.setattr(os, "stat", no_file_access)
        assert shipped_classifier(saved, "toy") is first
    clear_cache()
    assert shipped_classifier(saved, "toy") is not first


def test_wrong_shape_is_rejected(saved: Path) -> None:
    clf = load_model(saved)
    with pytest.raises(ValueError, match="shape"):
        clf.predict(np.zeros((2, 2)))
    assert clf.predict(np.zeros((0, 3))).shape == (0,)


def test_classifier_pickles_by_reloading(saved: Path) -> None:
    clf = load_model(saved)
    copy = pickle.loads(pickle.dumps(clf))
    x, _, _ = _data(50)
    assert isinstance(copy, Classifier)
    np.testing.assert_array_equal(copy.predict(x), clf.predict(x))


@pytest.mark.parametrize("channel", ["four_muon", "mumu_tautau", "tautau_phil"])
def test_shipped_models_verify_and_match_their_channel(channel: str) -> None:
    sys.path.insert(0, str(REPO / "processors"))
    module = pytest.importorskip(f"belleflow_channels.{channel}")
    step = module.channel.classifier
    clf = load_model(step.model)
    assert step.model.parent == MODELS
    assert clf.features == tuple(step.features)
    record = clf.document
    assert record["channel"] == channel
    wp = record["working_point"]
    assert abs(wp["signal_efficiency"] - wp["signal_efficiency_target"]) < 0.05
    assert 0.5 < wp["background_rejection"] < 1.0
    assert 0.8 < record["roc_auc"] < 1.0
    assert np.all(np.isfinite(clf.predict(np.zeros((4, len(clf.features))))))
