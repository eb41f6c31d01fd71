"""Brazil plots: steps for exact limits, gaps at vetoed windows, no observed line when blinded."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from belleflow.limits import Resolution, StatModel
from belleflow.plotting.brazil import brazil_plot, brazil_stem, scan_segments
from belleflow.plotting.style import LabelInfo

MODEL = StatModel(
    channel="c",
    observable="m",
    mass_range=(1.0, 2.0),
    resolution=Resolution(polynomial=[0.05]),
    signal_model="zprime_lmu_ltau",
    cl=0.9,
    vetoed=[(1.42, 1.58)],
)


def _points(method: str, *, observed: bool) -> list[dict]:
    rows = []
    for i, mass in enumerate(MODEL.hypothesis_masses()):
        base = 100.0 + 10 * mass
        rows.append(
            {
                "mass": mass,
                "ctau": 0.0,
                "method": method,
                "expected_converted": [base, base, base, base * (2 if i % 3 else 1), base * 3],
            }
        )
        if observed:
            rows[-1]["observed_converted"] = base * 1.1
    return rows


def _lines(ax, label_part):
    return [line for line in ax.get_lines() if label_part in (line.get_label() or "")]


def test_segments_split_at_vetoed_windows() -> None:
    masses = MODEL.hypothesis_masses()
    segments = scan_segments(masses, MODEL)
    assert len(segments) == 2
    left, right = (masses[s] for s in segments)
    low, high = MODEL.vetoed[0]
    assert max(left) < low
    assert min(right) > high


def test_no_curve_crosses_a_vetoed_window(tmp_path, captured) -> None:
    brazil_plot(
        tmp_path / "b",
        _points("asymptotic", observed=True),
        MODEL,
        LabelInfo("Belle II"),
        blinded=False,
    )
    ax = captured[0].axes[0]
    for line in ax.get_lines():
        x = np.asarray(line.get_xdata(), dtype=float)
        crossing = (x[:-1] < 1.42) & (x[1:] > 1.58)
        assert not crossing.any(), line.get_label()
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    for band in bands:
        for path in band.get_paths():
            x = path.vertices[:, 0]
            assert not ((x > 1.43) & (x < 1.57)).any()


def test_exact_limits_are_steps_and_asymptotic_are_lines(tmp_path, captured) -> None:
    brazil_plot(
        tmp_path / "e", _points("exact", observed=False), MODEL, LabelInfo("Belle II"), blinded=True
    )
    brazil_plot(
        tmp_path / "a",
        _points("asymptotic", observed=False),
        MODEL,
        LabelInfo("Belle II"),
        blinded=True,
    )
    exact = _lines(captured[0].axes[0], "Median")[0].get_xdata()
    smooth = _lines(captured[1].axes[0], "Median")[0].get_xdata()
    # A step repeats every x once (vertical risers); a line has distinct x.
    assert len(exact) > len(set(np.round(exact, 9))) > 0
    assert len(smooth) == len(set(smooth))


def test_blinded_plot_has_no_observed_line_and_readable_axes(tmp_path, captured) -> None:
    brazil_plot(
        tmp_path / "b", _points("exact", observed=False), MODEL, LabelInfo("Belle II"), blinded=True
    )
    ax = captured[0].axes[0]
    assert not _lines(ax, "Observed")
    assert ax.get_xlabel() == "$m_{Z'}$ [GeV]"
    assert "zprime" not in ax.get_legend().get_title().get_text()
    # The legend sits in head-room above every curve.
    top = max(max(line.get_ydata()) for line in ax.get_lines())
    assert ax.get_ylim()[1] > 5 * top


def test_unblinded_plot_draws_the_observed_limit(tmp_path, captured) -> None:
    brazil_plot(
        tmp_path / "u", _points("exact", observed=True), MODEL, LabelInfo("Belle II"), blinded=False
    )
    assert len(_lines(captured[0].axes[0], "Observed")) == 1


def test_files_and_lifetime_names(tmp_path) -> None:
    assert brazil_stem(tmp_path, [0.0], 0.0).name == "brazil"
    assert brazil_stem(tmp_path, [1.0, 2.5], 2.5).name == "brazil_ctau2.5cm"
    paths = brazil_plot(
        brazil_stem(tmp_path, [1.0, 2.5], 2.5),
        _points("exact", observed=False),
        MODEL,
        LabelInfo("Belle", 0.0142, (10.58,)),
        blinded=True,
        ctau=2.5,
    )
    assert [p.name for p in paths] == ["brazil_ctau2.5cm.png", "brazil_ctau2.5cm.pdf"]
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths[1].read_bytes()[:5] == b"%PDF-"


def test_no_finite_limit_is_an_error_naming_the_plot(tmp_path) -> None:
    rows = [{"mass": 1.0, "ctau": 0.0, "method": "exact", "expected_converted": [np.nan] * 5}]
    with pytest.raises(ValueError, match="brazil: no finite expected limits"):
        brazil_plot(tmp_path / "brazil", rows, MODEL, LabelInfo(), blinded=True)
