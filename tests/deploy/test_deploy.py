"""deploy/: the cluster configurations' job scripts, the container recipe, the gateway client."""

from __future__ import annotations

import gc
import re
import tomllib
from pathlib import Path

import dask.config
import pytest
import yaml
from dask_gateway import Gateway
from dask_gateway.auth import BasicAuth
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from belleflow import resources
from belleflow.engine.executors import job_script, load_cluster_spec

REPO = Path(__file__).resolve().parents[2]
ACTIVATE = '. "${BELLEFLOW_ENV:-$HOME/belleflow-env}/bin/activate"'

#: What each shipped file asks for, as its batch system's directives spell it.
EXPECTED = {
    "slurm": [r"#SBATCH --cpus-per-task=1\n", r"#SBATCH --mem=2G\n", r"#SBATCH -t 01:00:00\n"],
    "lsf": [
        r"#BSUB -q s\n",  # KEKCC's short queue
        r"#BSUB -n 1\n",
        r"#BSUB -M 4000000\n",  # KiB: 4 GB
        r"#BSUB -W 03:00\n",
    ],
    "pbs": [r"#PBS -l select=1:ncpus=1:mem=2GB\n", r"#PBS -l walltime=01:00:00\n"],
    "htcondor": [
        r"MY\.DaskWorkerCores = 1\n",
        r"MY\.DaskWorkerMemory = 2000000000\n",
        r"\+MaxRuntime = 3600\n",
    ],
}
#: How each batch system names a queue in a job script.
QUEUE = {"slurm": "#SBATCH -p short\n", "lsf": "#BSUB -q short\n", "pbs": "#PBS -q short\n"}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_shipped_job_scripts(kind: str) -> None:
    spec = load_cluster_spec(kind, overrides=["cluster.interface=lo"])
    assert Path(spec.source).parent == resources.deploy_dir()
    script = job_script(spec, scheduler="tcp://127.0.0.1:8786")
    for pattern in EXPECTED[kind]:
        assert re.search(pattern, script), f"{kind}: {pattern!r} not in\n{script}"
    # The environment is activated before the worker starts, in the same shell.
    activation = script.index(ACTIVATE.replace('"', '""') if kind == "htcondor" else ACTIVATE)
    worker = script.index("-m distributed.cli.dask_worker tcp://127.0.0.1:8786")
    assert activation < worker
    assert "--nthreads 1" in script
    assert "--interface lo" in script  # the one-node test cluster's loopback


@pytest.mark.parametrize("kind", sorted(QUEUE))
def test_queue_override(kind: str) -> None:
    spec = load_cluster_spec(kind, overrides=["cluster.queue=short"])
    assert QUEUE[kind] in job_script(spec)


def test_every_batch_system_has_a_shipped_file() -> None:
    for name in resources.deploy_configs():
        document = yaml.safe_load(resources.deploy_path(name).read_text(encoding="utf-8"))
        if document["kind"] != "gateway":
            assert document["cluster"]["job_script_prologue"] == [ACTIVATE], name


# dask-gateway 2026.3's Gateway.__del__ closes it a second time and raises with
# distributed 2026.8 ("Accessing the loop property while the loop is not
# running"); Python ignores it, and so does this test, after collecting the objects.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_gateway_client_configuration() -> None:
    config = dask.config.collect(paths=[str(REPO / "deploy" / "dask")], env={})
    assert config["gateway"]["address"].startswith("http://")
    # On top of dask-gateway's defaults, as a file in ~/.config/dask/ would be.
    with dask.config.set(dask.config.merge(dask.config.config, config)), Gateway() as gateway:
        assert gateway.address == config["gateway"]["address"]
        # dask-gateway rewrites the scheme to its own, gateway://
        host_port = config["gateway"]["proxy-address"].split("://")[1]
        assert gateway.proxy_address == f"gateway://{host_port}"
        assert isinstance(gateway.auth, BasicAuth)
    spec = load_cluster_spec("gateway")
    with Gateway(**spec.gateway) as shipped:  # what `--executor gateway` constructs
        assert isinstance(shipped.auth, BasicAuth)
    del gateway, shipped
    gc.collect()


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "deploy" / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep, f"deploy/requirements.lock: {line!r} is not pinned with =="
            pins[name] = version
    return pins


def test_lock_satisfies_the_project() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = _lock()
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for r in project["optional-dependencies"]["gateway"]]
    wanted += [Requirement(r) for r in project["optional-dependencies"]["jupyter"]]
    for requirement in wanted:
        name = requirement.name.lower()
        assert name in pins, f"deploy/requirements.lock lacks {name}"
        assert pins[name] in requirement.specifier, f"{name}=={pins[name]} vs {requirement}"
    assert "dask-awkward" not in pins  # it would pin dask<2025.4 (docs/installation.md)
    assert "ipykernel" in pins
    python = re.search(r"^FROM python:(\d+\.\d+)", _dockerfile(), re.MULTILINE)
    assert python, "deploy/Dockerfile: no python base image"
    assert python.group(1) + ".0" in SpecifierSet(project["requires-python"])


def _dockerfile() -> str:
    return (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")


def test_dockerfile_copies_existing_files_and_installs_the_lock() -> None:
    copies = re.findall(r"^COPY (\S+) (\S+)$", _dockerfile(), re.MULTILINE)
    assert copies
    for source, _ in copies:
        assert (REPO / source).exists(), f"deploy/Dockerfile copies {source}, which is missing"
    sources = {source for source, _ in copies}
    # The symbolic links of the package data point into these folders.
    assert {"src", "processors", "datasets", "deploy"} <= sources
    assert "pip install --no-deps -r deploy/requirements.lock" in _dockerfile()
