"""Cluster configurations (deploy/*.yaml) and the job scripts they generate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from belleflow.engine.executors import (
    job_script,
    load_cluster_spec,
    parse_adaptive,
    parse_overrides,
)


@pytest.mark.parametrize(
    ("kind", "cores", "memory", "walltime"),
    [
        ("slurm", r"#SBATCH --cpus-per-task=4", r"#SBATCH --mem=8G", r"#SBATCH -t 02:30:00"),
        ("lsf", r"#BSUB -n 4", r"#BSUB -M 8000000", r"#BSUB -W 02:30"),
        (
            "pbs",
            r"#PBS -l select=1:ncpus=4:mem=8GB",
            r"#PBS -l select=1:ncpus=4:mem=8GB",
            r"#PBS -l walltime=02:30:00",
        ),
        (
            "htcondor",
            r"MY.DaskWorkerCores = 4",
            r"MY.DaskWorkerMemory = 8000000000",
            r"\+MaxRuntime = 9000",
        ),
    ],
)
def test_job_scripts_carry_requested_resources(
    kind: str, cores: str, memory: str, walltime: str
) -> None:
    walltime_value = {"lsf": "02:30", "htcondor": None}.get(kind, "02:30:00")
    overrides = ["cluster.cores=4", "cluster.memory=8GB"]
    if walltime_value:
        overrides.append(f"cluster.walltime='{walltime_value}'")
    if kind == "pbs":
        overrides.append("cluster.resource_spec=select=1:ncpus=4:mem=8GB")
    if kind == "htcondor":
        overrides.append("cluster.job_extra_directives.+MaxRuntime=9000")
    spec = load_cluster_spec(kind, overrides=overrides)
    script = job_script(spec, scheduler="tcp://10.0.0.1:8786")
    for pattern in (cores, memory, walltime):
        assert re.search(pattern, script), (pattern, script)
    assert "tcp://10.0.0.1:8786" in script
    assert "distributed.cli.dask_worker" in script


@pytest.mark.parametrize("kind", ["slurm", "lsf", "pbs", "htcondor"])
def test_default_deploy_files_parse(kind: str) -> None:
    spec = load_cluster_spec(kind)
    assert spec.cluster["cores"] == 1
    assert spec.workers >= 1
    assert Path(spec.source).name.endswith(".yaml")
    assert "--nthreads 1" in job_script(spec)


def test_gateway_config_parses() -> None:
    spec = load_cluster_spec("gateway")
    assert spec.gateway["address"].startswith("http")


def test_cluster_config_file_and_errors(tmp_path: Path) -> None:
    custom = tmp_path / "mine.yaml"
    custom.write_text("kind: slurm\nworkers: 7\ncluster: {cores: 2, memory: 1GB}\n")
    spec = load_cluster_spec("slurm", custom, ["workers=3"])
    assert (spec.workers, spec.cluster["cores"]) == (3, 2)
    with pytest.raises(ValueError, match="not 'pbs'"):
        load_cluster_spec("pbs", custom)
    custom.write_text("kind: slurm\nnodes: 3\n")
    with pytest.raises(ValueError, match="unknown keys"):
        load_cluster_spec("slurm", custom)
    with pytest.raises(ValueError, match="unknown cluster kind"):
        load_cluster_spec("kubernetes")


def test_parse_helpers() -> None:
    assert parse_overrides(["a.b=3", "a.c=x", "d=[1, 2]"]) == {"a": {"b": 3, "c": "x"}, "d": [1, 2]}
    assert parse_adaptive("0:20") == (0, 20)
    for bad in ("20", "3:1", "a:b", "0:0"):
        with pytest.raises(ValueError, match="MIN:MAX"):
            parse_adaptive(bad)
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["novalue"])
