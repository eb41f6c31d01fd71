"""``belleflow catalogue validate`` and ``show``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from belleflow.catalogue import DATA_ROOT_ENV
from belleflow.cli import app as belleflow_app
from belleflow.cli.catalogue import app

DATASETS = Path(__file__).parents[2] / "datasets"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_env_data_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A two-sample catalogue with data_root ``store`` next to it."""
    document = {
        "name": "small",
        "data_root": "store",
        "scale": 0.5,
        "data": [
            {
                "name": "b2_4S",
                "experiment": "Belle II",
                "machine": "SuperKEKB",
                "ecms": 10.58,
                "luminosity": 100.0,
                "luminosity_source": "test",
            }
        ],
        "simulation": [
            {"name": "b2_4S_mumu", "process": "mumu", "stands_for": ["b2_4S"], "events": 1.0e6}
        ],
    }
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def touch_files(path: Path) -> None:
    for relative in ("data/b2_4S/f0.root", "mc/b2_4S_mumu/f0.root"):
        target = path.parent / "store" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()


def test_validate_ok_with_files(small: Path) -> None:
    touch_files(small)
    result = runner.invoke(app, ["validate", str(small)])
    assert result.exit_code == 0, result.output
    assert "schema and semantics OK" in result.stdout
    assert "files OK: 2 files for 2 samples" in result.stdout


def test_validate_missing_files(small: Path) -> None:
    result = runner.invoke(app, ["validate", str(small)])
    assert result.exit_code == 1
    assert "2 of 2 samples have missing files" in result.stderr
    assert "simulation[0] 'b2_4S_mumu': files: no file matches 'mc/b2_4S_mumu/*.root'" in (
        result.stderr
    )
    result = runner.invoke(app, ["validate", str(small), "--no-files"])
    assert result.exit_code == 0, result.output
    assert "files not checked" in result.stdout


def test_validate_data_root_option(small: Path, tmp_path: Path) -> None:
    touch_files(small)
    (tmp_path / "store").rename(tmp_path / "moved")
    assert runner.invoke(app, ["validate", str(small)]).exit_code == 1
    result = runner.invoke(app, ["validate", str(small), "--data-root", str(tmp_path / "moved")])
    assert result.exit_code == 0, result.output


def test_validate_bad_catalogue(small: Path) -> None:
    document = yaml.safe_load(small.read_text(encoding="utf-8"))
    document["simulation"][0]["process"] = "mumuu"
    small.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(small), "--no-files"])
    assert result.exit_code == 1
    assert "simulation[0] 'b2_4S_mumu': process: unknown process 'mumuu'" in result.stderr


def test_validate_shipped_catalogues() -> None:
    for name in ("belleflow.yaml", "demo.yaml"):
        result = runner.invoke(app, ["validate", str(DATASETS / name), "--no-files"])
        assert result.exit_code == 0, result.output


def test_show_json_parses(small: Path) -> None:
    touch_files(small)
    result = runner.invoke(app, ["show", str(small), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["name"] == "small"
    assert info["scale"] == 0.5
    assert info["luminosity"]["Belle II"] == {"full": 100.0, "effective": 50.0}
    mumu = next(s for s in info["samples"] if s["name"] == "b2_4S_mumu")
    assert mumu["effective_events"] == 500_000
    assert mumu["weight"] == pytest.approx(1.148e6 * 50.0 / 5.0e5)
    assert mumu["files_found"] == 1


def test_show_demo_json_luminosities() -> None:
    result = runner.invoke(app, ["show", str(DATASETS / "demo.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["luminosity"]["Belle"]["full"] == pytest.approx(982.9)
    assert info["luminosity"]["Belle II"]["full"] == pytest.approx(596.1)
    assert info["luminosity"]["Belle"]["effective"] == pytest.approx(982.9 * info["scale"])
    assert info["events"]["simulation"] == sum(
        s["effective_events"] for s in info["samples"] if s["kind"] == "simulation"
    )


def test_show_table(small: Path) -> None:
    result = runner.invoke(app, ["show", str(small)])
    assert result.exit_code == 0, result.output
    for text in ("b2_4S_mumu", "Belle II", "100.0 fb⁻¹", "50.0 fb⁻¹", "total"):
        assert text in result.stdout


def test_show_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["show", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "catalogue file not found" in result.stderr


def test_registered_as_belleflow_catalogue() -> None:
    result = runner.invoke(
        belleflow_app, ["catalogue", "validate", str(DATASETS / "demo.yaml"), "--no-files"]
    )
    assert result.exit_code == 0, result.output
    assert "belleflow-demo" in result.stdout
