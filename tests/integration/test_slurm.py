"""``belleflow run --executor slurm`` on the one-node Slurm cluster .ci/run starts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slurm


def test_slurm_run_matches_iterative(
    tmp_path: Path, channel_file: str, make_files: Any, helpers: Any
) -> None:
    assert shutil.which("sinfo"), "Slurm is not installed: run .ci/run (or .ci/services/slurm.sh)"
    data, mc = make_files(tmp_path / "files")
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(helpers.catalogue_text(data, mc))
    common = ["--catalogue", str(catalogue), "--chunksize", "100"]
    reference = helpers.belleflow_run(
        channel_file, *common, "--executor", "iterative", "--out", str(tmp_path / "it"),
        cache=tmp_path / "cache",
    )  # fmt: skip
    assert reference.returncode == 0, reference.stderr
    slurm = helpers.belleflow_run(
        channel_file, *common, "--executor", "slurm", "--out", str(tmp_path / "slurm"),
        "--workers", "2", "--set", "cluster.interface=lo", "--set", "cluster.memory=1GB",
        "--set", "cluster.walltime=00:10:00", "--set", f"cluster.log_directory={tmp_path}",
        cache=tmp_path / "cache",
    )  # fmt: skip
    assert slurm.returncode == 0, slurm.stdout + slurm.stderr
    assert "Dask dashboard" in slurm.stdout
    report = json.loads((tmp_path / "slurm" / "dimuon" / "report.json").read_text())
    assert report["complete"] is True
    assert report["executor"] == "slurm"
    assert report["events"]["read"] == 1200
    helpers.assert_same_histograms(tmp_path / "it" / "dimuon", tmp_path / "slurm" / "dimuon")
