"""The StatModel declaration and the unit conversions."""

from __future__ import annotations

import itertools

import pydantic
import pytest

from belleflow.limits import (
    BranchingNormalisation,
    CouplingReference,
    Resolution,
    StatModel,
    convert,
    register_coupling,
)


def _model(**kw: object) -> StatModel:
    base: dict[str, object] = {
        "channel": "c",
        "observable": "m",
        "mass_range": (1.0, 2.0),
        "resolution": Resolution(table=[(1.0, 0.01), (2.0, 0.03)]),
        "signal_model": "s",
    }
    base.update(kw)
    return StatModel.model_validate(base)


def test_extra_fields_forbidden() -> None:
    with pytest.raises(pydantic.ValidationError, match="window_width"):
        _model(window_width=3)


def test_units_validated() -> None:
    with pytest.raises(pydantic.ValidationError, match="units"):
        _model(units="picobarn")
    with pytest.raises(pydantic.ValidationError, match="branching"):
        _model(units="branching_fraction")


def test_hypothesis_masses_follow_resolution() -> None:
    masses = _model(scan_step=2.0).hypothesis_masses()
    steps = [b - a for a, b in itertools.pairwise(masses)]
    assert steps[0] == pytest.approx(0.02)
    assert steps[-1] > steps[0]  # resolution grows with mass
    assert masses[-1] <= 2.0


def test_branching_fraction_from_pairs() -> None:
    # Belle: 772e6 B Bbar pairs in 711 fb^-1; 1 fb of sigma x B, either B decays.
    model = _model(
        units="branching_fraction",
        branching=BranchingNormalisation(n_pairs=772e6, multiplicity=2.0),
    )
    value = convert(1.0, 1.5, 0.0, model, 711.0)
    assert value == pytest.approx(711.0 / (2 * 772e6), rel=1e-9)


def test_coupling_reference_scaling() -> None:
    ref = CouplingReference(coupling=0.01, power=2.0, masses=[1.0, 2.0], reference=[4.0, 4.0])
    model = _model(units="coupling:g_prime", coupling=ref)
    # sigma x B ~ g'^2: a limit of 1 fb against 4 fb at g' = 0.01 gives g' = 0.005.
    assert convert(1.0, 1.5, 0.0, model, None) == pytest.approx(0.005)


def test_registered_coupling_formula() -> None:
    def formula(sigma_b_fb, mass, ctau, model, luminosity_fb):  # noqa: ARG001
        return sigma_b_fb * mass

    register_coupling("test_only_coupling", formula)
    model = _model(units="coupling:test_only_coupling")
    assert convert(2.0, 1.5, 0.0, model, None) == pytest.approx(3.0)
