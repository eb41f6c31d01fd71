"""The portable classifier format reproduces scikit-learn exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from belleflow.training.evaluate import (
    FORMAT,
    FORMAT_VERSION,
    document_hash,
    load_model,
    shipped_classifier,
)
from belleflow.training.trainer import export_gradient_boosting, export_mlp


def _data(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] ** 2 + 0.3 * rng.normal(size=n)) > 0.5
    return x, y


def _write(tmp_path: Path, part: dict) -> Path:
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "channel": "toy",
        "version": 1,
        "features": ["a", "b", "c"],
        "threshold": 0.5,
        **part,
    }
    document["sha256"] = document_hash(document)
    path = tmp_path / "toy-v1.json"
    path.write_text(json.dumps(document))
    return path


def test_gradient_boosting_export_matches_sklearn(tmp_path: Path) -> None:
    x, y = _data()
    x[::17, 1] = np.nan  # missing values follow the learned direction
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(x, y)
    clf = load_model(_write(tmp_path, export_gradient_boosting(model)))
    np.testing.assert_allclose(clf.raw(x), model.decision_function(x), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(clf.predict(x), model.predict_proba(x)[:, 1], atol=1e-12)
    assert clf.features == ("a", "b", "c")
    assert clf.threshold == 0.5


def test_mlp_export_matches_sklearn(tmp_path: Path) -> None:
    x, y = _data()
    model = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    )
    with pytest.warns(
        Warning, match="Maximum iterations"
    ):  # not converged in 50 iterations: fine for the test
        model.fit(x, y)
    clf = load_model(_write(tmp_path, export_mlp(model)))
    np.testing.assert_allclose(clf.predict(x), model.predict_proba(x)[:, 1], atol=1e-10)


def test_edited_document_is_rejected(tmp_path: Path) -> None:
    x, y = _data(100)
    model = HistGradientBoostingClassifier(max_iter=2).fit(x, y)
    path = _write(tmp_path, export_gradient_boosting(model))
    document = json.loads(path.read_text())
    document["threshold"] = 0.1
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="sha256"):
        load_model(path)


def test_wrong_shape_is_rejected(tmp_path: Path) -> None:
    x, y = _data(100)
    model = HistGradientBoostingClassifier(max_iter=2).fit(x, y)
    clf = load_model(_write(tmp_path, export_gradient_boosting(model)))
    with pytest.raises(ValueError, match="shape"):
        clf.predict(np.zeros((2, 2)))


def test_missing_shipped_classifier_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"run `belleflow train four_muon`"):
        shipped_classifier(tmp_path / "four_muon-v1.json", "four_muon")
