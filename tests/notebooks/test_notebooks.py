"""notebooks/: stored without outputs, and executed headless on a small production.

The execution tests (marker ``notebooks``, run by .ci/run) generate the shipped
catalogue at a tenth of the demo's scale into a temporary folder, then run each
notebook top to bottom in a fresh kernel with nbclient, pointed at it through the
notebooks' ``BELLEFLOW_NOTEBOOK_*`` environment variables.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from belleflow import resources
from belleflow.catalogue import load_catalogue
from belleflow.generation.production import produce

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_notebooks_are_stored_without_outputs() -> None:
    assert [p.name for p in NOTEBOOKS] == ["facility.ipynb", "quickstart.ipynb"]
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs, f"{path.name}: a cell is stored with outputs"
                assert cell.execution_count is None, f"{path.name}: execution counts stored"


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped catalogue at 2e-6 of the luminosity, generated (a minute or less)."""
    folder = tmp_path_factory.mktemp("production")
    catalogue = folder / "tiny.yaml"
    catalogue.write_text(
        f"extends: {resources.catalogue_path('belleflow.yaml')}\nname: tiny\nscale: 2.0e-6\n"
        f"data_root: {folder / 'data'}\nsignal_events_per_point: 100\n",
        encoding="utf-8",
    )
    produce(load_catalogue(catalogue), workers=1, progress=False)
    return catalogue


def _execute(name: str, catalogue: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a notebook in a fresh kernel; the text of its outputs."""
    monkeypatch.setenv("BELLEFLOW_NOTEBOOK_CATALOGUE", str(catalogue))
    monkeypatch.setenv("BELLEFLOW_NOTEBOOK_OUT", str(out))
    monkeypatch.setenv("BELLEFLOW_NOTEBOOK_WORKERS", "1")
    # CI exports MPLBACKEND=Agg for scripts; a notebook kernel must keep Jupyter's inline
    # backend, or its figures are never shown.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(out)}}
    )
    out.mkdir(parents=True, exist_ok=True)
    client.execute()
    (out / name).write_text(nbformat.writes(notebook), encoding="utf-8")  # to look at
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


@pytest.mark.notebooks
@pytest.mark.slow
def test_quickstart(production: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "quickstart"
    text = _execute("quickstart.ipynb", production, out, monkeypatch)
    assert "Dask dashboard: http://" in text
    assert "0 files written" in text  # the fixture's production was found, not remade
    assert "complete: True" in text
    report = json.loads((out / "four_muon" / "report.json").read_text())
    assert report["complete"] is True
    assert (out / "four_muon_m_mumu.png").stat().st_size > 0
    notebook = nbformat.read(out / "quickstart.ipynb", as_version=4)
    images = [
        o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 3  # the spectrum and one Brazil plot per signal model
    for model in ("muonphilic_scalar", "zprime_lmu_ltau"):
        limits = json.loads((out / "four_muon" / model / "limits.json").read_text())
        assert len(limits["points"]) > 100
        assert f"{model}: {len(limits['points'])} masses" in text


@pytest.mark.notebooks
@pytest.mark.slow
def test_facility_falls_back_to_a_local_cluster(
    production: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BELLEFLOW_NOTEBOOK_BATCH", "lsf")  # no bsub on CI machines
    out = tmp_path / "facility"
    text = _execute("facility.ipynb", production, out, monkeypatch)
    assert "#BSUB -q s" in text  # the job script of deploy/kekcc-lsf.yaml
    assert '. "${BELLEFLOW_ENV:-$HOME/belleflow-env}/bin/activate"' in text
    assert "bsub not found: no lsf here, using a LocalCluster" in text
    assert "LocalCluster | dashboard: http://" in text
    assert "complete: True" in text
    report = json.loads((out / "four_muon" / "report.json").read_text())
    catalogue = load_catalogue(production)
    # Only data samples ran (those the channel's skim takes), no simulation.
    assert report["samples"]
    assert set(report["samples"]) <= {d.name for d in catalogue.data}
