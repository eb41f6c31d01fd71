"""The step-by-step selection: event and candidate cuts, steps never rise."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from belleflow.cuts import Cuts, event_mask


def test_event_and_candidate_cuts_combine() -> None:
    cuts = Cuts(4)
    cuts.require("first", np.array([True, True, True, False]))
    cuts.require("pair", ak.Array([[True, False], [False], [True, True], [True]]))
    cuts.require("missing_energy", np.array([True, True, False, True]))
    cuts.require("window", ak.Array([[True, True], [True], [True, True], [True]]))
    assert {k: v.tolist() for k, v in cuts.steps.items()} == {
        "first": [True, True, True, False],
        "pair": [True, False, True, False],
        "missing_energy": [True, False, False, False],
        "window": [True, False, False, False],
    }
    # Candidate cuts AND per candidate; the event cuts restrict the selected ones.
    assert cuts.candidates.tolist() == [[True, False], [False], [True, True], [True]]
    assert cuts.selected_candidates().tolist() == [[True, False], [False], [False, False], [False]]


def test_keep_records_no_step_and_at_scatters() -> None:
    cuts = Cuts(3)
    cuts.require("two", np.array([True, False, True]))
    at = cuts.event
    cuts.keep(ak.Array([[False, True], [True]]), at=at)
    assert cuts.candidates.tolist() == [[False, True], [], [True]]
    cuts.require("late", np.array([False, True]), at=at)
    assert list(cuts.steps) == ["two", "late"]
    assert cuts.event.tolist() == [False, False, True]


def test_bad_cuts_are_refused() -> None:
    cuts = Cuts(2)
    cuts.require("a", [True, None])
    assert cuts.event.tolist() == [True, False]
    with pytest.raises(ValueError, match="required twice"):
        cuts.require("a", [True, True])
    with pytest.raises(ValueError, match="expected 2 events"):
        cuts.require("b", [True])
    with pytest.raises(TypeError, match="per-candidate"):
        cuts.keep(np.array([True, True]))


def test_event_mask_accepts_awkward_and_none() -> None:
    assert event_mask(ak.Array([True, None, False])).tolist() == [True, False, False]
