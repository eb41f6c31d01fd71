"""belleflow.resources: the shipped catalogues, cluster configurations and models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from belleflow import resources
from belleflow.catalogue import CatalogueError, default_catalogue_path, load_catalogue
from belleflow.cli.catalogue import app as catalogue_app
from belleflow.engine.executors import BATCH_SYSTEMS, load_cluster_spec
from belleflow.training.evaluate import load_model

#: The checkout the tests run from: in an editable install the package data
#: are its top-level folders (through the symbolic links in src/belleflow/_data).
REPO = Path(__file__).resolve().parents[2]


def test_catalogues_are_the_repository_files() -> None:
    assert resources.catalogues() == ["belleflow.yaml", "demo.yaml"]
    for name in resources.catalogues():
        path = resources.catalogue_path(name)
        assert path == (REPO / "datasets" / name).resolve()
        assert path.read_bytes() == (REPO / "datasets" / name).read_bytes()
    demo = load_catalogue(resources.catalogue_path())
    assert demo.name == "belleflow-demo"
    assert demo.scale == pytest.approx(2e-5)


def test_deploy_configs_cover_every_batch_system() -> None:
    shipped = resources.deploy_configs()
    assert set(BATCH_SYSTEMS.values()) <= set(shipped)
    for name in shipped:
        document = yaml.safe_load(resources.deploy_path(name).read_text(encoding="utf-8"))
        assert document["kind"] in BATCH_SYSTEMS, name
    spec = load_cluster_spec("lsf")
    assert Path(spec.source) == resources.deploy_path("kekcc-lsf.yaml")


def test_models_load() -> None:
    for channel in ("four_muon", "mumu_tautau", "tautau_phil"):
        path = resources.model_path(channel, 1)
        assert path.parent == (REPO / "processors" / "belleflow_channels" / "models").resolve()
        classifier = load_model(path)  # also checks its sha256
        assert classifier.features, channel


def test_missing_resources_are_named() -> None:
    with pytest.raises(
        resources.ResourceNotFoundError, match=r"'nope\.yaml' not found .*demo\.yaml"
    ):
        resources.catalogue_path("nope.yaml")
    with pytest.raises(resources.ResourceNotFoundError, match=r"cluster configuration 'k8s\.yaml'"):
        resources.deploy_path("k8s.yaml")
    with pytest.raises(
        resources.ResourceNotFoundError, match=r"belleflow/_data/nothing is missing"
    ):
        resources.shipped_dir("belleflow", "_data", "nothing")
    with pytest.raises(CatalogueError, match="pass the path of a catalogue explicitly"):
        default_catalogue_path("nope.yaml")


def test_catalogue_commands_default_to_the_shipped_demo() -> None:
    shown = CliRunner().invoke(catalogue_app, ["show", "--json"])
    assert shown.exit_code == 0, shown.output
    summary = json.loads(shown.output)
    assert summary["name"] == "belleflow-demo"
    assert summary["source"] == str(resources.catalogue_path("demo.yaml"))
    validated = CliRunner().invoke(catalogue_app, ["validate", "--no-files"])
    assert validated.exit_code == 0, validated.output
    assert str(resources.catalogue_path("demo.yaml")) in validated.output.replace("\n", "")
