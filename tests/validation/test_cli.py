"""``belleflow validate`` end to end on a small production, full chain included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from belleflow.cli import app

DATASETS = Path(__file__).parents[2] / "datasets"


# The reduced validation CI blocks on (docs/validation.md): a production, a run, the toy studies
# and a null and an injected chain, about 7 minutes on 2 cores. `.ci/run` selects it with
# `-m validation` once; the fast suite leaves it out.
@pytest.mark.validation
def test_reduced_validation_passes_and_writes_every_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BELLEFLOW_DATA_ROOT", raising=False)
    catalogue = tmp_path / "tiny.yaml"
    catalogue.write_text(
        f"extends: {DATASETS / 'belleflow.yaml'}\n"
        "name: tiny-validate\n"
        "scale: 1.0e-7\n"
        f"data_root: {tmp_path / 'data'}\n"
        "signal_events_per_point: 300\n"
    )
    runner = CliRunner()
    made = runner.invoke(
        app, ["generate", str(catalogue), "--samples", "belle2_*", "--no-progress"]
    )
    assert made.exit_code == 0, made.output
    out = tmp_path / "out"
    ran = runner.invoke(
        app,
        [
            "run",
            "four_muon",
            "--catalogue",
            str(catalogue),
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert ran.exit_code == 0, ran.output
    result = runner.invoke(
        app,
        [
            "validate",
            "four_muon",
            "--in",
            str(out),
            "--catalogue",
            str(catalogue),
            "--reduced",
            "--no-progress",
        ],
    )
    # Every check must pass on this production (issue 9): exit 1 is a failed check.
    assert result.exit_code == 0, result.output
    folder = out / "four_muon" / "validation"
    report = json.loads((folder / "validation.json").read_text())
    studies = {c["study"] for c in report["checks"]}
    assert studies == {"injection", "coverage", "bias", "null", "chain"}
    assert report["passed"]
    for check in report["checks"]:
        assert check["name"] in result.output
    assert "fitted / injected strength" in (folder / "validation.md").read_text()
    kinds = sorted(run["injection"] is None for run in report["chain"])
    assert kinds == [False, True]  # one injected run and one null run
    injected = next(r for r in report["chain"] if r["injection"] is not None)
    limits = Path(injected["run_dir"]) / "four_muon" / "zprime_lmu_ltau" / "limits.json"
    assert json.loads(limits.read_text())["points"]
    for plot in ("pulls", "coverage", "z_scan"):
        assert (folder / f"{plot}.png").stat().st_size > 0
        assert (folder / f"{plot}.pdf").stat().st_size > 0


def test_validate_names_a_missing_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "four_muon", "--in", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: no run of four_muon in {tmp_path} (found: none)"
    typo = CliRunner().invoke(
        app, ["validate", "fuor_muon", "--in", str(tmp_path), "--no-progress"]
    )
    assert typo.exit_code == 2
    assert typo.stderr.strip() == "error: unknown channel 'fuor_muon' (did you mean four_muon?)"
