"""``belleflow plot`` and ``belleflow report`` on a toy run folder."""

from __future__ import annotations

from typer.testing import CliRunner

from belleflow.cli import app


def test_plot_one_channel_and_one_observable(make_run) -> None:
    run_dir = make_run()
    result = CliRunner().invoke(app, ["plot", str(run_dir), "toy_mumu", "--observable", "m_mumu"])
    assert result.exit_code == 0, result.output
    plots = run_dir / "toy_mumu" / "plots"
    assert (plots / "spectrum_m_mumu.png").exists()
    assert (plots / "spectrum_m_mumu.pdf").exists()
    assert not (plots / "plane_mass_plane.png").exists()
    assert (run_dir / "toy_mumu" / "zp" / "brazil.png").exists()


def test_plot_errors_are_one_line(make_run, tmp_path) -> None:
    run_dir = make_run()
    result = CliRunner().invoke(app, ["plot", str(run_dir), "nope"])
    assert result.exit_code == 2
    assert "unknown channel 'nope' (registered: " in result.stderr
    assert f"; runs in {run_dir}: toy_mumu)" in result.stderr
    assert "Traceback" not in result.output
    result = CliRunner().invoke(app, ["plot", str(run_dir), "toy_mumo"])
    assert result.stderr.strip() == "error: unknown channel 'toy_mumo' (did you mean toy_mumu?)"
    result = CliRunner().invoke(app, ["plot", str(run_dir), "four_muon"])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: no run of four_muon in {run_dir} (found: toy_mumu)"
    result = CliRunner().invoke(app, ["plot", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: no folder {tmp_path / 'missing'}"


def test_report_names_a_typo_and_a_missing_run(make_run) -> None:
    run_dir = make_run()
    result = CliRunner().invoke(app, ["report", str(run_dir), "--channel", "fuor_muon"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: unknown channel 'fuor_muon' (did you mean four_muon?)"
    result = CliRunner().invoke(app, ["report", str(run_dir), "--channel", "gamma_alp"])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: no run of gamma_alp in {run_dir} (found: toy_mumu)"
    assert not (run_dir / "report.html").exists()


def test_report_prints_its_path_last(make_run) -> None:
    run_dir = make_run()
    result = CliRunner().invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last == f"report: {(run_dir / 'report.html').resolve()}"
