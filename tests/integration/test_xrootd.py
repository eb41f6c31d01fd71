"""Runs over root:// URLs served by the XRootD server .ci/run starts on localhost."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.xrootd

#: Folder the CI's XRootD server exports (.ci/run sets it).
EXPORT_ENV = "BELLEFLOW_XROOTD_EXPORT"


def test_xrootd_run_matches_local_files(
    tmp_path: Path, channel_file: str, make_files: Any, helpers: Any
) -> None:
    export = os.environ.get(EXPORT_ENV)
    assert export, f"set {EXPORT_ENV} to the folder the XRootD server exports (see .ci/run)"
    folder = Path(export) / f"test-{uuid.uuid4().hex[:8]}"
    data, mc = make_files(folder)
    folder.chmod(0o755)
    local = tmp_path / "local.yaml"
    local.write_text(helpers.catalogue_text(data, mc))
    remote = tmp_path / "remote.yaml"
    remote.write_text(
        helpers.catalogue_text(
            [f"root://localhost/{p}" for p in data], [f"root://localhost/{p}" for p in mc]
        )
    )
    runs = {}
    for name, catalogue in (("local", local), ("remote", remote)):
        runs[name] = helpers.belleflow_run(
            channel_file, "--catalogue", str(catalogue), "--executor", "iterative",
            "--chunksize", "100", "--out", str(tmp_path / name), cache=tmp_path / "cache",
        )  # fmt: skip
        assert runs[name].returncode == 0, runs[name].stdout + runs[name].stderr
    report = json.loads((tmp_path / "remote" / "dimuon" / "report.json").read_text())
    assert report["complete"] is True
    assert all(path.startswith("root://localhost//") for path in report["files"])
    assert report["events"]["read"] == 1200
    helpers.assert_same_histograms(tmp_path / "local" / "dimuon", tmp_path / "remote" / "dimuon")

    # A URL that does not exist fails early, naming it.
    missing = tmp_path / "missing.yaml"
    missing.write_text(
        helpers.catalogue_text(
            [f"root://localhost/{folder}/nope.root"], [f"root://localhost/{mc[0]}"]
        )
    )
    failed = helpers.belleflow_run(
        channel_file, "--catalogue", str(missing), "--executor", "iterative",
        "--out", str(tmp_path / "missing"), cache=tmp_path / "cache",
    )  # fmt: skip
    assert failed.returncode == 1
    assert "nope.root" in failed.stderr
