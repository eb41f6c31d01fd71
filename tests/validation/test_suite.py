"""What validate_channel evaluates: the scan points it builds, the full chain's injection."""

from __future__ import annotations

import pytest

from belleflow.limits.api import build_hypotheses, scan_points
from belleflow.naming import signal_label
from belleflow.validation.injection import injected_events, interior_grid_points, leave_out
from belleflow.validation.suite import _chain_injection

from .conftest import MakeTable, toy_model


def test_scan_points_are_those_of_the_hypotheses_built(make_table: MakeTable) -> None:
    histograms = {"toy": {"m": make_table(0.3)}}
    built = build_hypotheses(toy_model(), histograms)
    assert scan_points(toy_model(), histograms) == [(h.mass, h.ctau) for h in built]


def test_the_chain_injects_between_the_only_two_grid_masses(make_table: MakeTable) -> None:
    """A grid of two masses has no interior point, but a midpoint to inject at."""
    table = make_table(0.3)
    for mass in (1.0, 1.25, 1.5):
        table = leave_out(table, signal_label("zp", mass, 0.0))
    model = toy_model()
    histograms = {"toy": {"m": table}}
    assert interior_grid_points(model, table) == []
    injection = _chain_injection(model, table, histograms, 4.0)
    assert injection.mass == pytest.approx(1.875)
    (h,) = build_hypotheses(model, histograms, masses=[injection.mass])
    expected = injected_events(h.summary.b, 4.0, h.summary.sigma_b) / h.summary.s
    assert injection.cross_section_fb == pytest.approx(expected)


def test_the_chain_injects_where_the_background_is_largest(make_table: MakeTable) -> None:
    """Flat background: every midpoint's window holds the same; the lowest mass is taken."""
    injection = _chain_injection(toy_model(), make_table(0.3), {"toy": {"m": make_table(0.3)}}, 4.0)
    assert injection.mass == pytest.approx(1.125)
