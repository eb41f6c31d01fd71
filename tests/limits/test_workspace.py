"""Workspaces are valid pyhf and reproduce belleflow's limits in pyhf alone."""

from __future__ import annotations

import json

import numpy as np
import pyhf
import pytest

from belleflow.limits import (
    Background,
    Resolution,
    StatModel,
    SubChannel,
    Systematic,
    build_hypotheses,
    compute_limits,
)
from belleflow.limits.workspace import model_window, windows_span

# pyhf validates with jsonschema's deprecated RefResolver; harmless, and only pyhf triggers it.
SCHEMA_WARNING = "ignore:jsonschema.RefResolver is deprecated:DeprecationWarning"
EDGES = np.linspace(1.0, 3.0, 81)


def _model(**kw: object) -> StatModel:
    base: dict[str, object] = {
        "channel": "toy",
        "observable": "m",
        "mass_range": (1.8, 2.2),
        "scan_step": 4.0,
        "resolution": Resolution(polynomial=[0.05]),
        "signal_model": "zp",
        "lumi_uncertainty": 0.02,
        "systematics": ["muon_id"],
    }
    base.update(kw)
    return StatModel.model_validate(base)


def _hist(make_hist, signal_grid, *, seed: int = 3, variations: bool = True):
    rng = np.random.default_rng(seed)
    bkg = np.full(80, 40.0)
    signal = signal_grid(EDGES, [1.5, 2.0, 2.5], lambda m: 80.0 * m, lambda _m: 0.05)
    var = {}
    if variations:
        var = {("qq", "muon_id_up"): bkg * 1.05, ("qq", "muon_id_down"): bkg * 0.96}
        for (m, c), counts in signal.items():
            var[(f"zp_m{m:g}_ctau{c:g}", "muon_id_up")] = counts * 1.03
    return make_hist(
        edges=EDGES,
        background={"qq": bkg},
        signal=signal,
        data=rng.poisson(bkg).astype(float),
        variations=var,
        bkg_variance_scale=0.25,
    )


@pytest.mark.filterwarnings(SCHEMA_WARNING)
@pytest.mark.parametrize("counting", [True, False])
def test_workspace_valid_and_same_limit_in_pyhf(
    tmp_path, make_hist, signal_grid, counting: bool
) -> None:
    # A narrower window in the binned case keeps the per-bin nuisances (and the test) few.
    model = _model(counting=counting, calculator="asymptotic", window=2.0 if counting else 1.0)
    result = compute_limits(
        model, {"m": _hist(make_hist, signal_grid)}, out_dir=tmp_path, plots=False
    )
    point = result.points[0]
    path = tmp_path / "workspaces" / f"{point.name}.json"
    spec = json.loads(path.read_text())
    workspace = pyhf.Workspace(spec)  # validates against the pyhf schema
    pdf = workspace.model()
    data = workspace.data(pdf)
    types = {m["type"] for c in spec["channels"] for s in c["samples"] for m in s["modifiers"]}
    assert {"normfactor", "lumi", "staterror"} <= types
    assert ("normsys" if counting else "histosys") in types
    # pyhf's own root finder (upper_limit) takes 1.5-10 s here; equivalently, pyhf's
    # CLs at each of belleflow's limits must be the 5 % that defines them.
    cls_obs = pyhf.infer.hypotest(point.observed, data, pdf, test_stat="qtilde")
    assert float(cls_obs) == pytest.approx(0.05, rel=0.01)
    for k in (0, 2, 4) if counting else (2,):
        _, cls_exp = pyhf.infer.hypotest(
            point.expected[k], data, pdf, test_stat="qtilde", return_expected_set=True
        )
        # pyhf's expected set is ordered like belleflow's bands: -2 sigma limit first.
        assert float(cls_exp[k]) == pytest.approx(0.05, rel=0.01)


def test_window_and_blinding(make_hist, signal_grid) -> None:
    model = _model(counting=False, window=2.0, blinded=True)
    (h,) = build_hypotheses(model, {"m": _hist(make_hist, signal_grid)}, masses=[2.0])
    channel = h.spec["channels"][0]
    # +-2 sigma = +-0.1 GeV at 0.025 GeV bins: the four bins whose centres lie inside.
    assert len(channel["samples"][0]["data"]) == 8
    assert h.spec["observations"][0]["data"] == pytest.approx([40.0] * 8)


@pytest.mark.filterwarnings(SCHEMA_WARNING)
@pytest.mark.parametrize("constraint", ["shapesys", "normfactor"])
def test_sideband_background(make_hist, signal_grid, constraint: str) -> None:
    rng = np.random.default_rng(5)
    data = rng.poisson(200.0 * np.exp(-0.5 * (0.5 * (EDGES[:-1] + EDGES[1:])))).astype(float)
    signal = signal_grid(EDGES, [1.5, 2.5], lambda _m: 100.0, lambda _m: 0.05)
    h = make_hist(edges=EDGES, signal=signal, data=data)
    model = _model(
        background=Background(
            source="sideband", function="exponential", order=1, constraint=constraint
        ),
        lumi_uncertainty=0.0,
        systematics=[],
    )
    (hyp,) = build_hypotheses(model, {"m": h}, masses=[2.0])
    pyhf.Workspace(hyp.spec).model()
    window_truth = 200.0 * np.exp(-0.5 * 2.0) * 8
    assert hyp.summary.b == pytest.approx(window_truth, rel=0.15)
    names = [c["name"] for c in hyp.spec["channels"]]
    assert names == (["toy", "toy_sideband"] if constraint == "normfactor" else ["toy"])


@pytest.mark.filterwarnings(SCHEMA_WARNING)
def test_combination_correlations(make_hist, signal_grid) -> None:
    h1 = _hist(make_hist, signal_grid, seed=1)
    h2 = _hist(make_hist, signal_grid, seed=2)
    model = _model(
        systematics=[{"name": "muon_id", "correlated": False}],
        subchannels=[
            SubChannel(name="belle2_mumu", experiment="Belle II", lumi_uncertainty=0.01),
            SubChannel(name="belle_mumu", experiment="Belle", lumi_uncertainty=0.014),
        ],
    )
    (hyp,) = build_hypotheses(
        model, {"belle2_mumu": {"m": h1}, "belle_mumu": {"m": h2}}, masses=[2.0]
    )
    pdf = pyhf.Workspace(hyp.spec).model()
    params = set(pdf.config.parameters)
    assert {"lumi_Belle_II", "lumi_Belle", "muon_id_Belle_II", "muon_id_Belle"} <= params
    assert "muon_id" not in params
    # Declared correlated, the systematic is one parameter for both experiments.
    correlated = model.model_copy(update={"systematics": [Systematic(name="muon_id")]})
    (hyp_c,) = build_hypotheses(
        correlated, {"belle2_mumu": {"m": h1}, "belle_mumu": {"m": h2}}, masses=[2.0]
    )
    params_c = set(pyhf.Workspace(hyp_c.spec).model().config.parameters)
    assert "muon_id" in params_c
    assert "muon_id_Belle" not in params_c


@pytest.mark.parametrize(
    "name", ["four_muon", "gamma_alp", "mumu_tautau", "tautau_phil", "dark_higgsstrahlung"]
)
def test_every_channel_blinds_every_window_of_its_scan(name: str) -> None:
    """A blinded run fills no data value that any scan window counts (issue 9, item 3).

    The windows at the ends of the search range reach ``window`` resolutions beyond it,
    and count whole bins: blinding the search range alone showed data in them.
    """
    from belleflow.channels import load_channel  # noqa: PLC0415

    channel = load_channel(name)
    processor = channel.make_processor()
    models = channel.statistical_model
    for model in models.values() if isinstance(models, dict) else [models]:
        (axis,) = next(h.axes for h in channel.histograms if h.name == model.observable)
        edges = np.asarray(axis.edges)
        for mass in model.hypothesis_masses():
            bins = model_window(model, edges, mass)
            # Each counted bin's lowest and highest values, and its centre.
            low, high = edges[bins], np.nextafter(edges[bins + 1], -np.inf)
            values = np.concatenate([low, 0.5 * (low + high), high])
            hidden = processor.in_signal_window({axis.name: values})
            assert hidden.all(), (model.signal_model, mass, values[~hidden])


def test_windows_span_covers_the_end_windows() -> None:
    model = _model(mass_range=(1.5, 2.5), scan_step=1.0)
    low, high = windows_span(model, EDGES)
    # 2 resolutions (0.1 GeV) beyond each end, in whole 0.025 GeV bins.
    assert low == pytest.approx(1.4)
    assert high == pytest.approx(2.6)
