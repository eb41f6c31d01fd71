"""Limits on sigma x B (fb) converted into the channel's declared units.

``units`` of a :class:`~belleflow.limits.model.StatModel`:

- ``sigma_B_fb``: the POI itself (signal histograms are per fb of sigma x B);
- ``branching_fraction``: ``B = sigma_B / (multiplicity * fraction * sigma_pairs)``
  with ``sigma_pairs = N_pairs / L`` (e.g. 772e6 B Bbar pairs in 711 fb^-1,
  836e6 tau pairs in 915 fb^-1) or the Physics Book cross section
  (1.11 nb for B Bbar, 0.919 nb for tau pairs); ``multiplicity`` is 2
  when either B (tau) of the pair may decay so;
- ``coupling:<name>``: a registered formula for ``<name>``, else the generic
  scaling ``c = c_ref * (limit / reference(m))**(1/power)`` with the
  reference prediction (sigma x B or B at coupling ``c_ref``) that the
  channel declares (power 2 for g', xi, theta, g_aW whose rates go as the
  coupling squared; 1 for |V_Ntau|^2 of a prompt HNL).

Formulas are pluggable: :func:`register_coupling` adds one for a model.

Examples:
    >>> from belleflow.limits.model import BranchingNormalisation
    >>> round(branching_fraction(1.0, BranchingNormalisation(), None) * 1e7, 3)
    4.505
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

import numpy as np

from belleflow.limits.model import BranchingNormalisation, StatModel

__all__ = [
    "PAIR_CROSS_SECTION_FB",
    "CouplingFormula",
    "branching_fraction",
    "convert",
    "parse_luminosity",
    "register_coupling",
]

# Belle II Physics Book (arXiv:1808.10567) at sqrt(s) = 10.58 GeV, in fb.
PAIR_CROSS_SECTION_FB = {"BBbar": 1.11e6, "tau_pairs": 0.919e6}


class CouplingFormula(Protocol):
    """Coupling limit from a sigma x B limit (fb) at (mass GeV, ctau cm)."""

    def __call__(
        self,
        sigma_b_fb: float,
        mass: float,
        ctau: float,
        model: StatModel,
        luminosity_fb: float | None,
    ) -> float: ...


_COUPLINGS: dict[str, CouplingFormula] = {}


def register_coupling(name: str, formula: CouplingFormula) -> None:
    """Register (or replace) the coupling formula used for ``units="coupling:<name>"``."""
    _COUPLINGS[name] = formula


def branching_fraction(
    sigma_b_fb: float, norm: BranchingNormalisation, luminosity_fb: float | None
) -> float:
    """Branching fraction for a sigma x B value (see module docstring)."""
    if norm.n_pairs is not None:
        if luminosity_fb is None:
            msg = "a branching fraction from n_pairs needs the luminosity"
            raise ValueError(msg)
        sigma_pairs = norm.n_pairs / luminosity_fb
    else:
        sigma_pairs = PAIR_CROSS_SECTION_FB[norm.pairs]
    return sigma_b_fb / (norm.multiplicity * norm.fraction * sigma_pairs)


def _reference_scaling(
    sigma_b_fb: float, mass: float, ctau: float, model: StatModel, luminosity_fb: float | None
) -> float:
    del ctau  # the generic scaling has no lifetime dependence
    ref = model.coupling
    if ref is None:
        msg = f"units {model.units!r} need a 'coupling' reference or a registered formula"
        raise ValueError(msg)
    value = sigma_b_fb
    if ref.on == "branching_fraction":
        if model.branching is None:
            msg = "a coupling reference on the branching fraction needs 'branching'"
            raise ValueError(msg)
        value = branching_fraction(sigma_b_fb, model.branching, luminosity_fb)
    reference = float(np.interp(mass, ref.masses, ref.reference))
    return float(ref.coupling * (value / reference) ** (1.0 / ref.power))


def convert(
    sigma_b_fb: float, mass: float, ctau: float, model: StatModel, luminosity_fb: float | None
) -> float:
    """A sigma x B limit in fb expressed in ``model.units``."""
    if model.units == "sigma_B_fb":
        return sigma_b_fb
    if model.units == "branching_fraction":
        assert model.branching is not None  # checked by StatModel
        return branching_fraction(sigma_b_fb, model.branching, luminosity_fb)
    name = model.units.split(":", 1)[1]
    formula: Callable[..., float] = _COUPLINGS.get(name, _reference_scaling)
    return float(formula(sigma_b_fb, mass, ctau, model, luminosity_fb))


_LUMI_UNITS = {"pb": 1e-3, "fb": 1.0, "ab": 1e3}
_LUMI_PATTERN = re.compile(
    r"^\s*(?P<value>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*"
    r"(?:/\s*(?P<a>pb|fb|ab)|(?P<b>pb|fb|ab)\s*(?:\^?\s*-\s*1|\^\{-1\}))\s*$"
)


def parse_luminosity(text: str) -> float:
    """An integrated luminosity with its unit, in fb^-1.

    Raises:
        ValueError: No number, or no unit among pb^-1, fb^-1 and ab^-1.

    Examples:
        >>> parse_luminosity("178/fb"), parse_luminosity("1.2 ab^-1"), parse_luminosity("500pb-1")
        (178.0, 1200.0, 0.5)
    """
    match = _LUMI_PATTERN.match(text)
    if match is None:
        msg = f"{text!r} is not a luminosity with a unit (e.g. 178/fb, 178 fb^-1, 1.2/ab)"
        raise ValueError(msg)
    value = float(match["value"])
    if not value > 0:
        msg = f"luminosity must be positive, got {text!r}"
        raise ValueError(msg)
    return value * _LUMI_UNITS[match["a"] or match["b"]]
