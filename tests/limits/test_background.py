"""Backgrounds where the simulation is sparse: never zero, never a free significance."""

from __future__ import annotations

import json

import numpy as np
import pytest

from belleflow.limits import Background, Resolution, StatModel, build_hypotheses, compute_limits
from belleflow.limits.background import estimate_window, resolution_units, usable_bins
from belleflow.limits.calculators import exact_p0
from belleflow.limits.significance import global_significance

EDGES = np.linspace(0.2, 9.2, 901)  # 10 MeV bins
SIGMA = 0.01


def _model(**kw: object) -> StatModel:
    base: dict[str, object] = {
        "channel": "toy",
        "observable": "m",
        "mass_range": (0.5, 9.0),
        "scan_step": 2.0,
        "resolution": Resolution(polynomial=[SIGMA]),
        "signal_model": "zp",
        "cl": 0.9,
    }
    base.update(kw)
    return StatModel.model_validate(base)


def _sparse_background(rng: np.random.Generator, events: int, weight: float) -> np.ndarray:
    """``events`` simulated events of ``weight`` each, flat in mass (most bins empty)."""
    counts = np.bincount(rng.integers(0, EDGES.size - 1, events), minlength=EDGES.size - 1)
    return counts.astype(float) * weight


def _signal(masses: list[float]) -> dict[tuple[float, float], np.ndarray]:
    from belleflow.limits.signal import gaussian_fractions  # noqa: PLC0415

    return {(m, 0.0): 50.0 * gaussian_fractions(EDGES, m, SIGMA) for m in masses}


def test_dense_window_uses_its_own_bins() -> None:
    values = np.full(EDGES.size - 1, 5.0)
    idx = np.arange(400, 404)
    u = resolution_units(EDGES, lambda _m: SIGMA)
    est = estimate_window(EDGES, values, values, idx, u_edges=u, usable=usable_bins(EDGES, []))
    assert est is not None
    assert est.method == "histogram"
    np.testing.assert_array_equal(est.values, values[idx])


def test_empty_window_gets_the_local_density() -> None:
    rng = np.random.default_rng(1)
    values = _sparse_background(rng, 60, 0.5)
    values[390:420] = 0.0  # the window and its surroundings are empty
    idx = np.arange(402, 406)
    u = resolution_units(EDGES, lambda _m: SIGMA)
    est = estimate_window(
        EDGES, values, 0.5 * values, idx, u_edges=u, usable=usable_bins(EDGES, []), min_events=10
    )
    assert est is not None
    assert est.method == "smoothed"
    # About 60 events x 0.5 over 900 bins: 0.033 per bin, 4 bins.
    assert est.values.sum() == pytest.approx(4 * 30.0 / 900, rel=0.5)
    assert est.n_effective >= 10
    assert 0 < est.errors.sum() < est.values.sum()


def test_vetoed_bins_do_not_dilute_the_density() -> None:
    values = np.zeros(EDGES.size - 1)
    values[::10] = 1.0  # 90 events, one every 0.1 GeV
    vetoed = [(3.0, 3.3)]
    values[(EDGES[:-1] >= 3.0) & (EDGES[1:] <= 3.3)] = 0.0
    u = resolution_units(EDGES, lambda _m: SIGMA)
    idx = np.arange(312, 316)  # next to the veto
    with_veto = estimate_window(
        EDGES, values, values, idx, u_edges=u, usable=usable_bins(EDGES, vetoed)
    )
    without = estimate_window(EDGES, values, values, idx, u_edges=u, usable=usable_bins(EDGES, []))
    assert with_veto is not None
    assert without is not None
    assert with_veto.values.sum() > without.values.sum()
    assert with_veto.values.sum() == pytest.approx(0.4, rel=0.25)


def test_no_window_has_zero_background_and_z_is_finite(make_hist) -> None:
    rng = np.random.default_rng(7)
    bkg = _sparse_background(rng, 40, 0.1)
    data = np.zeros(EDGES.size - 1)
    data[[150, 430, 431, 700]] = 1.0  # a few data events where the simulation has none
    hist = make_hist(
        edges=EDGES,
        background={"mumumumu": bkg},
        signal=_signal([0.5, 3.0, 6.0, 9.0]),
        data=data,
        bkg_variance_scale=0.1,
    )
    model = _model()
    hypotheses = build_hypotheses(model, {"m": hist})
    bs = np.array([h.summary.b for h in hypotheses])
    assert np.all(bs > 0)
    z = np.array([exact_p0(h.summary)[1] for h in hypotheses])
    assert np.all(np.isfinite(z))
    # Two data events on a background of ~0.02: significant, but finite and below 6.
    assert 3.0 < z.max() < 6.0
    glob = global_significance([h.mass for h in hypotheses], z.tolist(), [SIGMA] * len(hypotheses))
    assert np.isfinite(glob.z_global)
    assert glob.z_global < glob.z_local


def test_floor_when_no_process_reaches_the_spectrum(make_hist) -> None:
    bkg = np.zeros(EDGES.size - 1)
    bkg[0] = 2.0  # one event of weight 2 at the lower edge, inside a veto
    hist = make_hist(
        edges=EDGES,
        background={"ee": bkg},
        signal=_signal([1.0, 2.0]),
        bkg_variance_scale=2.0,
    )
    model = _model(mass_range=(1.0, 2.0), vetoed=[(0.1, 0.3)])
    hypotheses = build_hypotheses(model, {"m": hist})
    for h in hypotheses:
        # One event of weight 2, spread over ~880 resolution-unit bins of the usable spectrum.
        assert 0 < h.summary.b < 0.05
        samples = [s["name"] for s in h.spec["channels"][0]["samples"]]
        assert "simulation_floor" in samples


def test_smoothing_can_be_turned_off(make_hist) -> None:
    rng = np.random.default_rng(3)
    bkg = _sparse_background(rng, 30, 1.0)
    bkg[395:410] = 0.0
    hist = make_hist(
        edges=EDGES, background={"qq": bkg}, signal=_signal([3.0, 5.0]), bkg_variance_scale=1.0
    )
    raw = _model(mass_range=(4.02, 4.02), background=Background(min_events=0))
    smooth = _model(mass_range=(4.02, 4.02))
    (h_raw,) = build_hypotheses(raw, {"m": hist})
    (h_smooth,) = build_hypotheses(smooth, {"m": hist})
    assert h_raw.summary.b > 0  # the floor still applies
    assert h_smooth.summary.b > h_raw.summary.b


def test_blinded_outputs_have_no_observation(tmp_path, make_hist) -> None:
    rng = np.random.default_rng(5)
    bkg = _sparse_background(rng, 5000, 0.2)
    hist = make_hist(
        edges=EDGES,
        background={"qq": bkg},
        signal=_signal([2.0, 3.0]),
        data=rng.poisson(bkg),
        bkg_variance_scale=0.2,
    )
    model = _model(mass_range=(2.0, 3.0), scan_step=20.0, blinded=True)
    compute_limits(model, {"m": hist}, out_dir=tmp_path, plots=False, write_workspaces=False)
    payload = json.loads((tmp_path / "limits.json").read_text())
    assert payload["blinded"] is True
    assert payload["global_significance"] is None
    for point in payload["points"]:
        for key in ("observed", "observed_converted", "mu_hat", "p0", "z_local", "n_obs"):
            assert key not in point
        assert len(point["expected"]) == 5
    header, *rows = (tmp_path / "limits.csv").read_text().splitlines()
    assert "observed" not in header
    assert "z_local" not in header
    assert "n_obs" not in header
    assert all(row.split(",")[4] == "true" for row in rows)
    # The in-window signal table is there, blinded or not.
    assert payload["signal"]
    assert all(0 < r["window_fraction"] <= 1 for r in payload["signal"])


def test_projection_scales_expected_limits(tmp_path, make_hist) -> None:
    rng = np.random.default_rng(11)
    bkg = np.full(EDGES.size - 1, 50.0)
    hist = make_hist(
        edges=EDGES,
        background={"qq": bkg},
        signal=_signal([2.0, 3.0]),
        data=rng.poisson(bkg),
        bkg_variance_scale=1e-6,  # a simulation sample far larger than the data
    )
    model = _model(mass_range=(2.5, 2.5), calculator="asymptotic")
    base = compute_limits(
        model, {"m": hist}, out_dir=tmp_path / "a", plots=False, luminosity_fb=1.0
    )
    proj = compute_limits(
        model,
        {"m": hist},
        out_dir=tmp_path / "b",
        plots=False,
        luminosity_fb=1.0,
        projection=100.0,
    )
    assert proj.model.blinded
    assert proj.luminosity_fb == pytest.approx(100.0)
    ratio = base.points[0].expected[2] / proj.points[0].expected[2]
    # Background-dominated (b ~ 250 per window): limits improve as sqrt(L).
    assert ratio == pytest.approx(10.0, rel=0.15)


def test_background_free_selection_floored_by_the_simulation_weight(make_hist) -> None:
    hist = make_hist(edges=EDGES, signal=_signal([1.0, 2.0]))  # no background process at all
    with pytest.raises(ValueError, match="floor_weight"):
        build_hypotheses(_model(mass_range=(1.5, 1.5)), {"m": hist})
    model = _model(mass_range=(1.5, 1.5), background=Background(floor_weight=1.0))
    (h,) = build_hypotheses(model, {"m": hist})
    assert 0 < h.summary.b < 0.01
