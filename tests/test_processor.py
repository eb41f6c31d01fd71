"""The framework side of a declared channel: shifts for simulation only, columns, models."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import awkward as ak
import hist
import numpy as np
import pytest

from belleflow import processor as processor_module
from belleflow import selection, systematics
from belleflow.channels import available_channels, load_channel
from belleflow.cuts import Cuts
from belleflow.limits.model import Resolution, StatModel
from belleflow.processor import Channel, nominal_twins
from belleflow.spec import EventView, Histogram, Result
from belleflow.training.evaluate import Classifier
from belleflow.training.samples import make_sample, open_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample(tmp_path_factory.mktemp("mumu") / "mumu.root", "mumu", 200, seed=3)


def _channel(calls: list[str], at_all: bool = True) -> Channel:
    def select(ev: EventView, cuts: Cuts) -> Result:
        calls.append("select")
        good = selection.good_tracks(ev.Track)
        cuts.require("two_tracks", ak.num(good) == 2)
        p = ak.sum(good.px, axis=1)
        at = cuts.event if at_all else ~cuts.event
        return Result(events={"px": p[at]}, at=at)

    return Channel(
        name="toy",
        description="toy",
        skim="lowmult",
        experiments=("Belle II",),
        select=select,
        histograms=(Histogram("px", (hist.axis.Regular(10, -5.0, 5.0, name="px"),)),),
        systematics=(systematics.MOMENTUM_SCALE,),
    )


def test_shifts_run_in_one_stacked_pass_for_simulation_only(sample: Path) -> None:
    calls: list[str] = []
    channel = _channel(calls)
    out = channel.make_processor().process(open_sample(sample, sample="s"))
    assert calls == ["select"]  # nominal and the two momentum-scale shifts in one pass
    assert set(out["histograms"]["px"].axes["variation"]) == {
        "nominal",
        "momentum_scale_up",
        "momentum_scale_down",
    }
    calls.clear()
    data = open_sample(sample, sample="d", kind="data", unblind=True)
    out = channel.make_processor().process(data)
    assert calls == ["select"]
    assert set(out["histograms"]["px"].axes["variation"]) == {"nominal"}


@pytest.mark.parametrize("at_all", [True, False])
def test_the_stacked_pass_fills_what_separate_passes_fill(sample: Path, at_all: bool) -> None:
    """Each shifted block gives, bin by bin, what a pass over the shifted events alone gives."""

    def select(ev: EventView, cuts: Cuts) -> Result:
        good = selection.good_tracks(ev.Track)
        cuts.require("two_tracks", ak.num(good) == 2)
        cuts.require("high_p", good.px > 0.0)  # a candidate cut: candidates fill
        at = cuts.event if at_all else None
        columns = {"px": good.px if at is None else good.px[at]}
        return Result(candidates=columns, at=at)

    channel = dataclasses.replace(
        _channel([]),
        select=select,
        systematics=(systematics.MOMENTUM_SCALE, systematics.tracking(2)),
    )
    processor = channel.make_processor()
    events = open_sample(sample, sample="s")
    stacked = processor.process(events)["histograms"]["px"]
    view = EventView(events)
    shift = systematics.MOMENTUM_SCALE
    for variation, factor in shift.variations():
        cuts = Cuts(len(events))
        result = select(view.shift(shift.collection, shift.apply, factor), cuts)
        px = result.candidates["px"]
        passed = cuts.event if result.at is None else cuts.event[result.at]
        keep = (
            cuts.selected_candidates()
            if result.at is None
            else cuts.selected_candidates()[result.at]
        )
        expected = hist.Hist(
            hist.axis.Regular(10, -5.0, 5.0, name="px"), storage=hist.storage.Weight()
        )
        expected.fill(px=ak.flatten(px[keep][passed]))
        got = stacked[{"dataset": "s", "variation": variation}]
        assert got.values(flow=True).tolist() == expected.values(flow=True).tolist()
        assert got.variances(flow=True).tolist() == expected.variances(flow=True).tolist()
    assert stacked[{"dataset": "s", "variation": "momentum_scale_up"}].sum().value > 0


def test_a_view_stacks_its_events_block_by_block(sample: Path) -> None:
    events = open_sample(sample, sample="s")
    view = EventView(events).subset(ak.to_numpy(ak.local_index(events.beam.E)[::2]))
    shift = systematics.MOMENTUM_SCALE
    stacked = view.stack([{}, {"Track": (shift.apply, 2.0)}])
    n = len(view)
    assert len(stacked) == 2 * n
    assert stacked.blocks == 2
    assert ak.to_list(stacked.Track.px[:n]) == ak.to_list(view.Track.px)
    assert ak.to_list(stacked.Track.px[n:]) == ak.to_list(view.Track.px * 2.0)
    assert ak.to_list(stacked.Photon.E[n:]) == ak.to_list(view.Photon.E)  # not shifted
    assert stacked.cm_frame[0].E.tolist() == 2 * view.cm_frame[0].E.tolist()
    with pytest.raises(ValueError, match="already stacked"):
        stacked.stack([{}])


def test_blinded_data_fills_nothing_without_a_blinding_window(sample: Path) -> None:
    """Every fill follows the selection: a histogram with no blinded observable is blind whole."""
    channel = _channel([])
    blinded = channel.make_processor().process(open_sample(sample, sample="d", kind="data"))
    assert blinded["histograms"]["px"].sum().value == 0
    windowed = dataclasses.replace(channel, blind={"px": ((0.0, 5.0),)})
    out = windowed.make_processor().process(open_sample(sample, sample="d", kind="data"))
    px = out["histograms"]["px"]
    assert px.sum().value > 0  # outside the window, data is shown
    assert px[{"px": slice(hist.loc(0.0), None)}].sum().value == 0


def test_columns_must_cover_the_selected_events(sample: Path) -> None:
    channel = _channel([], at_all=False)
    with pytest.raises(ValueError, match=r"Result\.at excludes"):
        channel.make_processor().process(open_sample(sample, sample="s"))


def _model(sigma: float) -> StatModel:
    """A statistical model of the toy channel's ``px``, searched at 1-2 with resolution ``sigma``."""
    return StatModel(
        channel="toy",
        observable="px",
        mass_range=(1.0, 2.0),
        resolution=Resolution(polynomial=[sigma]),
        signal_model="toy",
    )


def test_statistical_model_systematics_come_from_the_declaration() -> None:
    model = _model(0.01)
    channel = dataclasses.replace(_channel([]), statistical_model={"toy": model})
    assert [s.name for s in channel.statistical_model["toy"].systematics] == ["momentum_scale"]
    other = StatModel(**{**model.model_dump(), "systematics": ["pid"]})
    with pytest.raises(ValueError, match="other systematics"):
        dataclasses.replace(channel, statistical_model=other)


def test_data_are_blind_wherever_a_scan_window_counts() -> None:
    """The windows at the ends of the search range (1-2) reach whole bins beyond it."""
    model = _model(0.3)
    channel = dataclasses.replace(_channel([]), statistical_model=model)
    assert channel.blind == {"px": ((0.0, 3.0),)}
    declared = dataclasses.replace(_channel([]), statistical_model=model, blind={"px": [(4, 5)]})
    assert declared.blind == {"px": ((4, 5), (0.0, 3.0))}
    assert declared.make_processor().windows() == declared.blind
    with pytest.raises(ValueError, match="blinds 'py', which no histogram fills"):
        dataclasses.replace(_channel([]), blind={"py": model})


def test_a_channel_needs_a_selection() -> None:
    with pytest.raises(ValueError, match="either select or processor_class"):
        Channel(name="x", description="", skim="s", experiments=())


def test_declared_channels_hash_their_module() -> None:
    options: dict[str, Any] = dict(_channel([]).options)
    assert set(options) == {"declaration"}
    assert len(options["declaration"]) == 16


def test_declared_processors_pickle() -> None:
    # Dask and process pools ship the processor: no closure in a declaration.
    for info in available_channels():
        processor = load_channel(info.name).make_processor()
        assert type(pickle.loads(pickle.dumps(processor))) is type(processor)


def test_nominal_twins_are_the_same_candidate_with_the_same_features() -> None:
    # 3 events per block, 2 blocks. Nominal: event 0 (2 candidates), event 2 (1).
    # Block 1: event 0 (2 candidates, the second one changed), event 1 (no
    # nominal copy), event 2 (2 candidates: not the nominal count).
    x = np.array(
        [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [1.0, 2.0], [3.0, 4.5], [7.0, 8.0], [5.0, 6.0], [0, 0]]
    )
    counts = np.array([2, 1, 2, 1, 2])
    events = np.array([0, 2, 3, 4, 5])
    assert nominal_twins(x, counts, events, 3).tolist() == [-1, -1, -1, 0, -1, -1, -1, -1]
    nan = np.array([[np.nan], [np.nan]])
    assert nominal_twins(nan, np.array([1, 1]), np.array([0, 1]), 1).tolist() == [-1, -1]
    empty = np.zeros((0, 2))
    assert nominal_twins(empty, np.array([0, 0]), np.array([0, 1]), 1).tolist() == []


def test_unchanged_candidates_of_a_shift_take_the_nominal_score(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """four_muon's features are track features: the photon-energy blocks repeat nominal rows."""
    path = make_sample(tmp_path / "4mu.root", "mumumumu", 150, seed=5)
    events = open_sample(path, sample="s")
    rows: list[int] = []
    predict = Classifier.predict

    def counting(self: Classifier, x: Any) -> Any:
        rows.append(len(x))
        return predict(self, x)

    monkeypatch.setattr(Classifier, "predict", counting)
    channel = load_channel("four_muon")
    shared = channel.make_processor().process(events)
    evaluated = sum(rows)
    rows.clear()
    monkeypatch.setattr(
        processor_module, "nominal_twins", lambda x, *_: np.full(len(x), -1, dtype=np.int64)
    )
    every = channel.make_processor().process(events)
    # Nominal, two momentum and two photon-energy blocks: the photon blocks are not evaluated.
    assert 0 < evaluated <= 0.65 * sum(rows)
    cutflows = [{k: v.tolist() for k, v in out["cutflow"]["s"].items()} for out in (shared, every)]
    assert cutflows[0] == cutflows[1]
    assert cutflows[0]["candidate"][0] > 0
    for name, h in every["histograms"].items():
        got = shared["histograms"][name]
        assert got.axes == h.axes
        assert got.values(flow=True).tolist() == h.values(flow=True).tolist()
        assert got.variances(flow=True).tolist() == h.variances(flow=True).tolist()
    variations = list(every["histograms"]["m_mumu"].axes["variation"])
    assert {"photon_energy_scale_up", "momentum_scale_up"} <= set(variations)
