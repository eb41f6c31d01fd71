"""The framework side of a declared channel: shifts for simulation only, columns, models."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import awkward as ak
import hist
import pytest

from belleflow import selection, systematics
from belleflow.channels import available_channels, load_channel
from belleflow.cuts import Cuts
from belleflow.limits.model import Resolution, StatModel
from belleflow.processor import Channel
from belleflow.spec import EventView, Histogram, Result
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


def test_shifts_rerun_the_selection_for_simulation_only(sample: Path) -> None:
    calls: list[str] = []
    channel = _channel(calls)
    out = channel.make_processor().process(open_sample(sample, sample="s"))
    assert len(calls) == 3  # nominal and the two momentum-scale shifts
    assert set(out["histograms"]["px"].axes["variation"]) == {
        "nominal",
        "momentum_scale_up",
        "momentum_scale_down",
    }
    calls.clear()
    out = channel.make_processor().process(open_sample(sample, sample="d", kind="data"))
    assert calls == ["select"]
    assert set(out["histograms"]["px"].axes["variation"]) == {"nominal"}


def test_columns_must_cover_the_selected_events(sample: Path) -> None:
    channel = _channel([], at_all=False)
    with pytest.raises(ValueError, match=r"Result\.at excludes"):
        channel.make_processor().process(open_sample(sample, sample="s"))


def test_statistical_model_systematics_come_from_the_declaration() -> None:
    model = StatModel(
        channel="toy",
        observable="px",
        mass_range=(1.0, 2.0),
        resolution=Resolution(polynomial=[0.01]),
        signal_model="toy",
    )
    channel = dataclasses.replace(_channel([]), statistical_model={"toy": model})
    assert [s.name for s in channel.statistical_model["toy"].systematics] == ["momentum_scale"]
    other = StatModel(**{**model.model_dump(), "systematics": ["pid"]})
    with pytest.raises(ValueError, match="other systematics"):
        dataclasses.replace(channel, statistical_model=other)


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
