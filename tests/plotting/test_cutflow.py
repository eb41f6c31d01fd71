"""The cutflow table sums samples by process and keeps blinded cells empty."""

from __future__ import annotations

import csv

from belleflow.plotting.cutflow import cutflow_table, write_cutflow_csv


def test_cutflow_grouped_by_process(tmp_path) -> None:
    report = {
        "samples": {
            "run1": {"kind": "data", "process": "data"},
            "run2": {"kind": "data", "process": "data"},
            "mumu_a": {"kind": "simulation", "process": "mumu"},
            "mumu_b": {"kind": "simulation", "process": "mumu"},
            "tautau": {"kind": "simulation", "process": "tautau"},
            "sig_1": {"kind": "signal", "process": "zp_m1_ctau0"},
            "sig_2": {"kind": "signal", "process": "zp_m2_ctau0"},
        },
        "cutflow": {
            "run1": {"all": [100.0, 100.0], "two": [10.0, 10.0]},
            "run2": {"all": [50.0, 50.0], "two": [5.0, 5.0]},
            "mumu_a": {"all": [20.0, 2.0], "two": [4.0, 0.4], "sr": [1.0, 0.1]},
            "mumu_b": {"all": [30.0, 6.0], "two": [6.0, 1.2], "sr": [2.0, 0.4]},
            "tautau": {"all": [1000.0, 1.0], "two": [1.0, 0.001], "sr": [0.0, 0.0]},
            "sig_1": {"all": [500.0, 0.5], "two": [300.0, 0.3], "sr": [200.0, 0.2]},
            "sig_2": {"all": [500.0, 0.5], "two": [300.0, 0.3], "sr": [250.0, 0.25]},
        },
    }
    table = cutflow_table(report, {"sig_2": "Z' 2 GeV"})
    assert table.cuts == ["all", "two", "sr"]
    assert [r.name for r in table.rows] == ["data", "tautau", "mumu", "sig_2"]
    data, _, mumu, signal = table.rows
    assert data.raw == [150.0, 15.0, None]  # blinded: no data count in the signal region
    assert mumu.raw == [50.0, 10.0, 3.0]
    assert mumu.weighted == [8.0, 1.6, 0.5]
    assert signal.label == "Z' 2 GeV"
    with write_cutflow_csv(table, tmp_path / "c.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows[2] == {"process": "data", "kind": "data", "cut": "sr", "raw": "", "weighted": ""}
    assert len(rows) == 12
