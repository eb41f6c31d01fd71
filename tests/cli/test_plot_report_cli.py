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
    assert "no outputs of channel 'nope' (channels there: toy_mumu)" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(app, ["plot", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "no such run folder" in result.output


def test_report_prints_its_path_last(make_run) -> None:
    run_dir = make_run()
    result = CliRunner().invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last == f"report: {(run_dir / 'report.html').resolve()}"
