"""``belleflow train``: a quick training of the four-muon classifier."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from belleflow.cli import app
from belleflow.training.evaluate import load_model
from belleflow.training.trainer import TrainingSpec

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "processors"))
four_muon = pytest.importorskip("belleflow_channels.four_muon")


@pytest.mark.slow  # generation and two fits: about 15 s idle, much more on a loaded machine
def test_train_writes_onnx_and_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A small training: one mass of each model, the main background.
    spec = TrainingSpec(
        version=7,
        signal_masses=(2.0,),
        backgrounds=("mumumumu",),
        signal_events=200,
        background_events=400,
    )
    declared = four_muon.channel
    classifier = dataclasses.replace(declared.classifier, training=spec)
    monkeypatch.setattr(four_muon, "channel", dataclasses.replace(declared, classifier=classifier))
    monkeypatch.chdir(tmp_path)  # the default output folder is relative to it
    catalogue = str(REPO / "datasets" / "belleflow.yaml")
    result = CliRunner().invoke(app, ["train", "four_muon", "--catalogue", catalogue])
    assert result.exit_code == 0, result.output
    assert "sample 3/3: mumumumu" in result.output  # progress
    assert "ROC AUC" in result.output
    path = tmp_path / "belleflow-output" / "models" / "four_muon-v7.json"
    assert path.with_suffix(".onnx").is_file()
    assert not (REPO / "processors" / "belleflow_channels" / "models" / path.name).exists()
    document = json.loads(path.read_text())
    assert document["channel"] == "four_muon"
    assert document["training"]["chosen"] in {"gradient_boosting", "mlp"}
    assert set(document["training"]["roc_auc"]) == {"gradient_boosting", "mlp"}
    clf = load_model(path)
    assert clf.features == four_muon.FEATURES
    score = clf.predict(np.zeros((3, len(clf.features))))
    assert np.all((score >= 0) & (score <= 1))


def test_out_and_install_exclude_each_other(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", "four_muon", "--install", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "either --out or --install" in result.output


def test_unknown_channel_fails_cleanly() -> None:
    result = CliRunner().invoke(app, ["train", "no_such_channel"])
    assert result.exit_code == 1
    assert "unknown channel" in result.output
