"""``belleflow generate``: summary table, files on disk, clear errors."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from belleflow.cli.generate import generate
from belleflow.generation.truth import GeneratorContext, TruthEvents, register_generator
from belleflow.ntuple import check_file

CATALOGUE = """
name: cli
data:
  - name: b2_4S
    experiment: Belle II
    machine: SuperKEKB
    ecms: 10.58
    luminosity: 0.001
    luminosity_source: test
signals:
  - name: cli_sig
    channel: toy
    model: _test_cli_signal
    stands_for: [b2_4S]
    masses: [1.0, 2.0]
    events_per_point: 100
  - name: cli_nogen
    channel: toy
    model: _test_cli_no_generator
    stands_for: [b2_4S]
    masses: [1.0]
    events_per_point: 100
"""


@register_generator("_test_cli_signal")
def _signal(n: int, context: GeneratorContext) -> TruthEvents:
    """A muon pair along +-y with the point's mass (not boosted: enough for the CLI)."""
    e = float(context.parameters["mass"]) / 2
    p = np.sqrt(e**2 - 0.1056583755**2)
    flat = {
        "PDG": np.tile([13, -13], n),
        "mother": np.full(2 * n, -1),
        "px": np.zeros(2 * n),
        "py": np.tile([p, -p], n),
        "pz": np.zeros(2 * n),
        "E": np.full(2 * n, e),
        "prodVertexX": np.zeros(2 * n),
        "prodVertexY": np.zeros(2 * n),
        "prodVertexZ": np.zeros(2 * n),
    }
    return TruthEvents(ak.unflatten(ak.zip(flat), np.full(n, 2)), np.ones(n))


@pytest.fixture
def app() -> typer.Typer:
    application = typer.Typer()
    application.command()(generate)
    return application


@pytest.fixture
def catalogue_file(tmp_path: Path) -> Path:
    path = tmp_path / "cli.yaml"
    path.write_text(CATALOGUE)
    return path


def test_generate_writes_and_summarises(
    app: typer.Typer, catalogue_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = [
        str(catalogue_file),
        "--samples",
        "cli_sig",
        "--data-root",
        str(out),
        "--workers",
        "1",
        "--no-progress",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "cli_sig_m1_ctau0" in result.output
    assert "2 file(s) written, 0 skipped" in result.output
    assert str(out) in result.output.replace("\n", "")
    assert check_file(out / "signal/cli_sig/cli_sig_m2_ctau0.root").n_events == 100
    again = CliRunner().invoke(app, args)
    assert "0 file(s) written, 2 skipped" in again.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--samples", "nope*"], "no sample matches 'nope*'"),
        (["--samples", "cli_nogen"], "no generator for process '_test_cli_no_generator' of sample"),
        (["--samples", "cli_sig", "--inject", "zprime"], "cannot parse injected signal"),
        (["--samples", "cli_sig", "--scale", "3"], "scale must be in (0, 1]"),
    ],
)
def test_generate_errors(
    app: typer.Typer, catalogue_file: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    args = [str(catalogue_file), "--data-root", str(tmp_path), "--workers", "1", "--no-progress"]
    result = CliRunner().invoke(app, args + extra)
    assert result.exit_code == 1
    assert message in result.output.replace("\n", "")


def test_generate_is_a_belleflow_command() -> None:
    from belleflow.cli import app as belleflow_app  # noqa: PLC0415 - imports every command

    result = CliRunner().invoke(belleflow_app, ["generate", "--help"])
    assert result.exit_code == 0
    assert "--inject" in result.output
