"""``docs/writing-a-channel.md``: its example channel, extracted from the page, runs as documented."""

from __future__ import annotations

import itertools
import re
import types
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

from belleflow import selection
from belleflow.limits import resolve_models
from belleflow.training.samples import make_sample, open_sample

DOC = Path(__file__).resolve().parents[1] / "docs" / "writing-a-channel.md"


@pytest.fixture(scope="module")
def dimuon() -> types.ModuleType:
    """The module made of the page's ``python`` blocks, in order."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 4
    module = types.ModuleType("dimuon_from_doc")
    exec(compile("\n".join(blocks), str(DOC), "exec"), module.__dict__)  # noqa: S102
    return module


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dimuon") / "zprime.root"
    return make_sample(path, "zprime_lmu_ltau", 300, parameters={"mass": 3.0}, seed=5)


def _expected_candidates(events: Any, module: types.ModuleType) -> tuple[int, np.ndarray]:
    """The doc's selection written out directly: events passing and their pair masses."""
    good = selection.good_tracks(events.Track)
    pairs = selection.opposite_charge_pairs(good)
    both = (pairs.positive.muonID > module.MUON_ID) & (pairs.negative.muonID > module.MUON_ID)
    m = selection.pair_p4(pairs, "mu-").mass
    keep = both & (m >= module.MASS_RANGE[0]) & (m < module.MASS_RANGE[1])
    keep = keep & (ak.num(good) >= 2)
    return int(ak.sum(ak.any(keep, axis=1))), ak.to_numpy(ak.flatten(m[keep]))


def test_doc_channel_cutflow_and_histograms(dimuon: types.ModuleType, sample: Path) -> None:
    out = dimuon.channel.make_processor().process(open_sample(sample, sample="s", kind="signal"))
    cutflow = out["cutflow"]["s"]
    assert list(cutflow) == ["all", "two_tracks", "opposite_charge", "muon_pair", "mass_range"]
    raw = [v[0] for v in cutflow.values()]
    assert all(b <= a for a, b in itertools.pairwise(raw))
    n_events, masses = _expected_candidates(open_sample(sample), dimuon)
    assert raw[-1] == n_events > 100
    h = out["histograms"]["m_mumu"]
    nominal = h[{"dataset": "s", "variation": "nominal"}]
    assert nominal.sum(flow=True).value == len(masses)
    expected, _ = np.histogram(masses, bins=nominal.axes[0].edges)
    assert nominal.values().tolist() == expected.tolist()
    # The Z' peak: the most populated bin is within two resolutions of 3 GeV.
    peak = nominal.axes[0].centers[np.argmax(nominal.values())]
    assert abs(peak - 3.0) < 2 * dimuon.RESOLUTION(3.0)
    variations = set(h.axes["variation"])
    assert variations == {"nominal"} | {
        f"{s}_{d}" for s in ("pid", "tracking", "momentum_scale") for d in ("up", "down")
    }
    total = {v: h[{"dataset": "s", "variation": v}].sum().value for v in variations}
    assert total["pid_up"] > total["nominal"] > total["pid_down"]


def test_doc_channel_data_is_neither_varied_nor_filled_in_the_window(
    dimuon: types.ModuleType, sample: Path
) -> None:
    events = open_sample(sample, sample="d", kind="data", process="data")
    h = dimuon.channel.make_processor().process(events)["histograms"]["m_mumu"]
    assert set(h.axes["variation"]) == {"nominal"}
    nominal = h[{"dataset": "d", "variation": "nominal"}]
    centres = nominal.axes[0].centers
    assert nominal.values()[(centres > 9.0) & (centres < 10.0)].sum() == 0
    assert nominal.values().sum() > 0


def test_doc_channel_statistical_model_takes_the_declared_systematics(
    dimuon: types.ModuleType,
) -> None:
    (model,) = resolve_models(dimuon.channel).values()
    assert [s.name for s in model.systematics] == ["pid", "tracking", "momentum_scale"]
