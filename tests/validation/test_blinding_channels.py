"""Every channel's blinded data: nothing in any scan window, and never a variation (issue 9).

A signal generated at the upper end of each channel's search range is read as data, where
the end window reaches beyond the search range. Blinded, no bin that a window counts holds
an entry; unblinded, the window at the generated mass does (so the check can fail). Data
fills only the nominal histograms either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import belleflow.generation.registry  # noqa: F401 - registers every generator
from belleflow.channels import load_channel
from belleflow.limits import resolve_models
from belleflow.limits.workspace import model_window
from belleflow.naming import NOMINAL
from belleflow.training.samples import make_sample, open_sample

BELLE2 = {"machine": "SuperKEKB", "experiment": "Belle II"}
BELLE = {"machine": "KEKB", "experiment": "Belle"}
#: channel -> (statistical model, generator, parameters, events, detector)
CASES: dict[str, tuple[str, str, dict[str, float], int, dict[str, str]]] = {
    "four_muon": ("zprime_lmu_ltau", "zprime_lmu_ltau", {"mass": 9.0}, 300, BELLE2),
    "gamma_alp": ("alp_photon", "alp_photon", {"mass": 9.7}, 200, BELLE2),
    "mumu_tautau": ("zprime_mumu_tautau", "zprime_mumu_tautau", {"mass": 10.0}, 600, BELLE2),
    "tautau_phil": ("prompt", "leptophilic_scalar", {"mass": 6.5, "ctau": 0.0}, 300, BELLE),
    "dark_higgsstrahlung": (
        "dark_higgsstrahlung_ap1",
        "dark_higgsstrahlung_ap1",
        {"mass": 9.5},
        300,
        BELLE,
    ),
}


def _process(name: str, path: Path, detector: dict[str, str], *, unblind: bool) -> Any:
    events = open_sample(path, sample="d", kind="data", process="data", unblind=unblind, **detector)
    return load_channel(name).make_processor().process(events)["histograms"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_blinded_data_shows_no_window_and_no_variation(name: str, tmp_path: Path) -> None:
    model_key, generator, parameters, n_events, detector = CASES[name]
    path = make_sample(
        tmp_path / "data.root",
        generator,
        n_events,
        machine=detector["machine"],
        parameters=parameters,
        seed=5,
    )
    model = resolve_models(name)[model_key]
    mass = parameters["mass"]
    masses = model.hypothesis_masses()
    for unblind in (False, True):
        histograms = _process(name, path, detector, unblind=unblind)
        for histogram in histograms.values():
            if "d" not in histogram.axes["dataset"]:
                continue  # nothing filled at all (a blinded histogram without sidebands)
            data = histogram[{"dataset": "d"}]
            varied = [v for v in data.axes["variation"] if v != NOMINAL]
            assert all(data[{"variation": v}].sum().value == 0 for v in varied), histogram.name
        observable = histograms[model.observable]
        edges = observable.axes[-1].edges
        if "d" in observable.axes["dataset"]:
            counts = observable[{"dataset": "d", "variation": NOMINAL}].values()
        else:
            counts = np.zeros(len(edges) - 1)
        if unblind:
            # The generated signal is there to be hidden: its own window holds entries.
            assert counts[model_window(model, edges, masses[-1])].sum() > 0
            continue
        counted = np.unique(np.concatenate([model_window(model, edges, m) for m in masses]))
        assert counts[counted].sum() == 0, (name, mass)
