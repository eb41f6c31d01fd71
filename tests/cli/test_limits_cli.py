"""``belleflow limits`` on a small synthetic run directory."""

from __future__ import annotations

import json

import hist
import numpy as np
import pytest
import uhi.io.json
from hist.serialization import to_uhi
from scipy.special import ndtr
from typer.testing import CliRunner

from belleflow.cli import app
from belleflow.limits import Resolution, StatModel


def _write_run(run_dir):
    edges = np.linspace(1.0, 3.0, 81)
    h = hist.Hist(
        hist.axis.StrCategory(["data", "qq", "zp_m1.2_ctau0", "zp_m2.8_ctau0"], name="process"),
        hist.axis.StrCategory(["nominal"], name="variation"),
        hist.axis.Variable(edges, name="m_mumu"),
        storage=hist.storage.Weight(),
    )
    view = h.view()
    view["value"][1, 0] = np.full(80, 0.2)
    for i, m in ((2, 1.2), (3, 2.8)):
        view["value"][i, 0] = 50.0 * np.diff(ndtr((edges - m) / 0.05))
    view["value"][0, 0] = np.random.default_rng(4).poisson(0.2, 80)
    channel = run_dir / "toy_mumu"
    channel.mkdir(parents=True)
    # UHI JSON as the run engine writes it: numpy arrays through uhi's encoder.
    encoded = json.dumps({"m_mumu": to_uhi(h)}, default=uhi.io.json.default)
    (channel / "histograms.json").write_text(encoded)
    (channel / "report.json").write_text(json.dumps({"luminosity_fb": 178.0, "complete": True}))
    model = StatModel(
        channel="toy_mumu",
        observable="m_mumu",
        mass_range=(1.5, 2.5),
        scan_step=4.0,
        resolution=Resolution(polynomial=[0.05]),
        signal_model="zp",
        cl=0.9,
    )
    (channel / "stat_model.json").write_text(model.model_dump_json())
    return channel


def test_limits_cli_writes_outputs(tmp_path) -> None:
    channel = _write_run(tmp_path)
    result = CliRunner().invoke(app, ["limits", "--all", "--in", str(tmp_path), "--cl", "0.95"])
    assert result.exit_code == 0, result.output
    payload = json.loads((channel / "limits.json").read_text())
    assert payload["cl"] == 0.95
    assert payload["luminosity_fb"] == 178.0
    assert payload["points"]
    for name in ("limits.csv", "brazil.png", "brazil.pdf"):
        assert (channel / name).exists()


def test_limits_cli_needs_channels(tmp_path) -> None:
    result = CliRunner().invoke(app, ["limits", "--in", str(tmp_path)])
    assert result.exit_code == 2


def _on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich's own switches: stderr counts as an (ANSI-capable) terminal."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("TERM", "xterm-256color")


def test_limits_shows_a_bar_per_model_on_a_terminal(tmp_path, monkeypatch) -> None:
    _write_run(tmp_path)
    _on_a_terminal(monkeypatch)
    args = ["limits", "toy_mumu", "--in", str(tmp_path), "--no-plots"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    total = len(json.loads((tmp_path / "toy_mumu" / "limits.json").read_text())["points"])
    assert total > 1
    # coffea's columns: the channel and model, done/total, the rate in hypotheses/s.
    assert "toy_mumu zp" in result.stderr
    assert f"{total}/{total}" in result.stderr
    assert "hypotheses/s" in result.stderr
    quiet = CliRunner().invoke(app, [*args, "--no-progress"])
    assert quiet.exit_code == 0, quiet.output
    assert "hypotheses/s" not in quiet.stderr
    # The table names the model too: a channel with several models prints one table each.
    assert "toy_mumu zp: 90% CL limits (sigma_B_fb)" in quiet.stdout


def test_limits_shows_no_bar_off_a_terminal(tmp_path, monkeypatch) -> None:
    _write_run(tmp_path)
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    result = CliRunner().invoke(app, ["limits", "toy_mumu", "--in", str(tmp_path), "--no-plots"])
    assert result.exit_code == 0, result.output
    assert "hypotheses/s" not in result.stderr


def test_limits_names_a_typo_and_a_missing_run(tmp_path) -> None:
    _write_run(tmp_path)
    typo = CliRunner().invoke(app, ["limits", "fuor_muon", "--in", str(tmp_path)])
    assert typo.exit_code == 2
    assert typo.stderr.strip() == "error: unknown channel 'fuor_muon' (did you mean four_muon?)"
    absent = CliRunner().invoke(app, ["limits", "four_muon", "--in", str(tmp_path)])
    assert absent.exit_code == 2
    assert absent.stderr.strip() == f"error: no run of four_muon in {tmp_path} (found: toy_mumu)"
    near = CliRunner().invoke(app, ["limits", "toy_mumo", "--in", str(tmp_path)])
    assert "did you mean toy_mumu?" in near.stderr  # a run in the folder is a candidate too


def test_limits_names_a_missing_or_wrong_folder(tmp_path) -> None:
    missing = CliRunner().invoke(app, ["limits", "--all", "--in", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert missing.stderr.strip() == f"error: no folder {tmp_path / 'nowhere'}"
    afile = tmp_path / "report.json"
    afile.write_text("{}")
    wrong = CliRunner().invoke(app, ["limits", "four_muon", "--in", str(afile)])
    assert wrong.exit_code == 2
    assert "is a file, not the output folder of `belleflow run`" in wrong.stderr
    assert "Traceback" not in wrong.output


def test_two_models_of_one_signal_are_told_apart(tmp_path) -> None:
    from belleflow.limits import compute_channel_limits  # noqa: PLC0415

    channel = _write_run(tmp_path)
    model = StatModel.model_validate_json((channel / "stat_model.json").read_text())
    calls: list[tuple[str, int, int]] = []
    results = compute_channel_limits(
        "toy_mumu",
        tmp_path,
        models={"prompt": model, "displaced": model},  # as tautau_phil: one signal model
        plots=False,
        progress=lambda label, done, total: calls.append((label, done, total)),
    )
    assert {label for label, _, _ in calls} == {"toy_mumu prompt", "toy_mumu displaced"}
    assert [r.files["json"].parent.name for r in results] == ["prompt", "displaced"]


def test_help_renders() -> None:
    # Rich reads "[/MODEL]" in the help text as a closing markup tag unless escaped.
    result = CliRunner().invoke(app, ["limits", "--help"])
    assert result.exit_code == 0, result.output
    assert "DIR/CHANNEL[/MODEL]/projection_" in result.output
