"""The wheel works outside the checkout: package data, ``catalogue show`` and a demo run.

Builds the wheel from the checkout, installs it into a fresh virtual environment
in a temporary folder (the heavy dependencies come from the system site
packages; belleflow itself only from the wheel) and runs the console script
there from a folder that is not the checkout.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.wheel, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]

#: The package data every wheel must hold (besides the code).
SHIPPED = (
    "belleflow/_data/datasets/belleflow.yaml",
    "belleflow/_data/datasets/demo.yaml",
    "belleflow/_data/deploy/slurm.yaml",
    "belleflow/_data/deploy/kekcc-lsf.yaml",
    "belleflow/_data/deploy/pbs.yaml",
    "belleflow/_data/deploy/htcondor.yaml",
    "belleflow/_data/deploy/gateway.yaml",
    "belleflow_channels/models/four_muon-v1.json",
    "belleflow_channels/models/four_muon-v1.onnx",
    "belleflow/py.typed",
)

#: Prints where the installed belleflow and its package data are.
WHERE = """
import json, belleflow, belleflow_channels, belleflow.resources as r
print(json.dumps([
    belleflow.__file__, belleflow_channels.__file__, str(r.catalogue_path("belleflow.yaml")),
    str(r.deploy_path("slurm.yaml")), str(r.model_path("four_muon", 1)),
]))
"""


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["MPLBACKEND"] = "Agg"
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _build(dist: Path, *options: str) -> Path:
    command = [sys.executable, "-m", "build", *options, "--no-isolation", "--outdir", str(dist)]
    _run([*command, "."], cwd=REPO, timeout=300)
    (path,) = dist.glob("belleflow-*.whl")
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the sdist, as pip builds it from a source release."""
    return _build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(env)], env.parent, 120)
    # --no-deps: the dependencies are the system's; belleflow is the wheel's.
    _run([str(env / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], env, 300)
    return env


def _check_package_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    missing = [name for name in SHIPPED if name not in names]
    assert not missing, f"{wheel.name} lacks {missing}"
    assert len(names) == len(set(names)), f"{wheel.name} holds a file twice"
    assert not any(name.startswith(("tests/", "datasets/", "deploy/")) for name in names)


def test_wheels_hold_package_data(wheel: Path, tmp_path: Path) -> None:
    _check_package_data(wheel)  # from the sdist
    _check_package_data(_build(tmp_path, "--wheel"))  # from the checkout, as `pip install .`


def test_installed_wheel_runs_outside_the_checkout(venv: Path, tmp_path: Path) -> None:
    python, belleflow = str(venv / "bin/python"), str(venv / "bin/belleflow")
    where = _run(
        [
            python,
            "-c",
            WHERE,
        ],
        tmp_path,
        120,
    )
    paths = [Path(p) for p in json.loads(where.stdout)]
    for path in paths:
        assert path.is_relative_to(venv), f"{path} is not from the wheel installed in {venv}"
        assert path.is_file(), path
    full_catalogue = paths[2]

    shown = _run([belleflow, "catalogue", "show"], tmp_path, 120)
    assert "belleflow-demo" in shown.stdout
    assert "generated events at this scale" in shown.stdout

    # The shipped catalogue at a tenth of the demo's scale, with fewer signal
    # events per grid point: the demo command end to end in a couple of minutes.
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(
        f"extends: {full_catalogue}\nname: tiny\nscale: 2.0e-6\nsignal_events_per_point: 100\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    demo = _run(
        [
            belleflow, "demo", "--channel", "four_muon", "--catalogue", str(tiny),
            "--data-root", str(tmp_path / "data"), "--out", str(out), "--workers", "1",
            "--no-progress",
        ],
        tmp_path,
        1200,
    )  # fmt: skip
    assert "four_muon:" in demo.stdout
    assert "complete" in demo.stdout
    report = json.loads((out / "four_muon" / "report.json").read_text())
    assert report["complete"] is True
    assert report["events"]["read"] > 0
    for model in ("muonphilic_scalar", "zprime_lmu_ltau"):
        limits = json.loads((out / "four_muon" / model / "limits.json").read_text())
        assert len(limits["points"]) > 100, model
        for point in limits["points"]:
            band = point["expected"]  # -2, -1, 0, +1, +2 sigma
            assert len(band) == 5, point["name"]
            assert 0 < band[0] <= band[2] <= band[4] < math.inf, point["name"]
        assert (out / "four_muon" / model / "brazil.png").stat().st_size > 0
