"""All figures of a run folder; labels from the run (Belle data is labelled Belle)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from belleflow.plotting import find_channels, load_channel_run, plot_channel, plot_limit_outputs
from belleflow.plotting.channel import _window_efficiencies, label_info, overlays


def test_blinded_run_figures(make_run) -> None:
    run_dir = make_run(experiment="Belle", blinded=True)
    run = load_channel_run(run_dir, "toy_mumu")
    figures = plot_channel(run)
    names = sorted(p.name for p in figures.spectra + figures.planes + figures.efficiency)
    assert names == [
        "efficiency.png",
        "plane_mass_plane.png",
        "resolution.png",
        "spectrum_m_mumu.png",
    ]
    assert [p.name for p in figures.limits["zp"]] == ["brazil.png"]  # no significance: blinded
    for png in names:
        path = run.directory / "plots" / png
        assert path.stat().st_size > 10_000
        assert path.with_suffix(".pdf").exists()
    assert figures.cutflow is not None
    assert (run.directory / "plots" / "cutflow.csv").exists()
    assert not figures.problems


def test_unblinded_lifetime_scan_figures(make_run) -> None:
    run = load_channel_run(make_run(blinded=False, lifetimes=(0.0, 2.5)), "toy_mumu")
    figures = plot_channel(run, ["m_mumu"])
    assert sorted(p.name for p in figures.limits["zp"]) == [
        "brazil_ctau0cm.png",
        "brazil_ctau2.5cm.png",
        "limit_plane.png",
        "significance.png",
    ]
    assert [p.name for p in figures.spectra] == ["spectrum_m_mumu.png"]
    assert not figures.planes


def test_label_comes_from_the_data_read(make_run) -> None:
    run = load_channel_run(make_run(experiment="Belle"), "toy_mumu")
    info = label_info(run, run.limits[0])
    # The model declares no sub-channels (default Belle II): the run's data say Belle.
    assert run.limits[0].model.subchannels == []
    assert info.experiment == "Belle"
    assert info.luminosity_fb == 1.0
    assert info.status == "Simulation"
    assert label_info(run).luminosity_fb == pytest.approx(1.0)  # two data samples of 0.5


def test_limit_outputs_find_the_run_report(make_run) -> None:
    run_dir = make_run(experiment="Belle")
    folder = run_dir / "toy_mumu" / "zp"
    files = plot_limit_outputs(json.loads((folder / "limits.json").read_text()), folder)
    assert files["brazil.png"].exists()


def test_overlays_at_the_expected_limit(make_run) -> None:
    run = load_channel_run(make_run(), "toy_mumu")
    chosen = overlays(run, run.histograms["m_mumu"])
    assert len({o.process for o in chosen}) == 3
    limits = {p["mass"]: p["expected"][2] for p in run.limits[0].points}
    for o in chosen:
        mass = float(o.process.split("_m")[1].split("_")[0])
        nearest = min(limits, key=lambda m: abs(m - mass))
        assert o.sigma_b_fb == limits[nearest]


def test_missing_outputs_are_one_line_errors(make_run, tmp_path) -> None:
    run_dir = make_run()
    assert find_channels(run_dir) == ["toy_mumu"]
    with pytest.raises(
        FileNotFoundError, match=r"no outputs of channel 'nope' \(channels there: toy_mumu\)"
    ):
        load_channel_run(run_dir, "nope")
    with pytest.raises(FileNotFoundError, match="no such run folder"):
        find_channels(tmp_path / "missing")
    with pytest.raises(
        ValueError, match=r"toy_mumu: no histogram m_nope \(have m_mumu, mass_plane\)"
    ):
        plot_channel(load_channel_run(run_dir, "toy_mumu"), ["m_nope"])
    (run_dir / "toy_mumu" / "report.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"report.json: not valid JSON"):
        load_channel_run(run_dir, "toy_mumu")


def test_window_efficiency_from_the_limits_signal_table(make_run) -> None:
    run = load_channel_run(make_run(lifetimes=(0.0, 2.5)), "toy_mumu")
    window = _window_efficiencies(run.limits)
    assert sorted(window) == [("zp", 0.0), ("zp", 2.5)]
    assert window["zp", 0.0] == [(1.0, 0.0045), (1.5, 0.0045), (2.0, 0.0045), (2.5, 0.0045)]


def test_overlays_without_limits_share_one_round_cross_section(make_run) -> None:
    run_dir = make_run()
    (run_dir / "toy_mumu" / "zp" / "limits.json").unlink()
    run = load_channel_run(run_dir, "toy_mumu")
    chosen = overlays(run, run.histograms["m_mumu"])
    (scale,) = {o.sigma_b_fb for o in chosen}
    assert np.log10(scale) == round(np.log10(scale))  # a power of ten
    nominal = run.histograms["m_mumu"][{"variation": "nominal"}]
    peak = max(nominal[{"process": o.process}].values().max() for o in chosen) * scale
    background = max(nominal[{"process": p}].values().max() for p in ("mumu", "tautau", "eeee"))
    # As tall as the background, within the rounding to a power of ten.
    assert background / np.sqrt(10) <= peak <= background * np.sqrt(10)
    assert all("fb" in o.label for o in chosen)
