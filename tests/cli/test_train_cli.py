"""``belleflow train``: a quick training of the four-muon classifier."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click
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
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # stderr counts as a terminal: the bar is drawn
    monkeypatch.setenv("TERM", "xterm-256color")
    catalogue = str(REPO / "datasets" / "belleflow.yaml")
    result = CliRunner().invoke(app, ["train", "four_muon", "--catalogue", catalogue])
    assert result.exit_code == 0, result.output
    assert "sample 3/3: mumumumu" in result.output  # progress
    # Three samples, two fits and the export: six steps, the last named on the bar.
    assert "train four_muon: exported" in result.stderr
    assert "6/6" in result.stderr
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


def test_train_bar_counts_steps_and_obeys_no_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    # The training itself is replaced: this is about what the command shows of its steps.
    from belleflow.training import trainer  # noqa: PLC0415

    def fake_train(_name: str, *, progress: trainer.Steps, **_: object) -> tuple[Path, dict]:
        for done, line in enumerate(("sample 1/2: zp_m1", "sample 2/2: mumu", "fitting mlp")):
            progress(line, done, 4)
        progress("exported mlp", 4, 4)
        document = {
            "training": {"roc_auc": {"mlp": 0.9}, "chosen": "mlp"},
            "threshold": 0.5,
            "working_point": {"signal_efficiency": 0.9, "background_rejection": 0.99},
            "model": {"file": "x.onnx"},
        }
        return Path("x.json"), document

    monkeypatch.setattr(trainer, "train_channel", fake_train)
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    shown = CliRunner().invoke(app, ["train", "four_muon"])
    assert shown.exit_code == 0, shown.output
    assert "train four_muon: exported mlp" in shown.stderr
    assert "4/4" in shown.stderr
    assert "steps/s" in shown.stderr
    assert "sample 2/2: mumu" in click.unstyle(shown.stdout)  # every step stays in the log
    quiet = CliRunner().invoke(app, ["train", "four_muon", "--no-progress"])
    assert quiet.exit_code == 0, quiet.output
    assert "steps/s" not in quiet.stderr
