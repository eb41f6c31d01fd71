"""The shared limit backend: every channel's spectra into CLs limits.

A channel declares a :class:`StatModel`; :func:`compute_limits` builds one
pyhf workspace per (mass, lifetime) hypothesis, computes observed and
expected CLs upper limits (asymptotic, exact Poisson or toys, chosen per
point), local and global significances, converts the limits into the
declared units and writes ``limits.json``, ``limits.csv`` and Brazil plots.
See ``docs/limits.md``.
"""

from __future__ import annotations

from belleflow.limits.api import (
    LimitResult,
    build_hypotheses,
    compute_channel_limits,
    compute_limits,
    compute_limits_from_run,
    load_run_histograms,
    resolve_model,
    resolve_models,
)
from belleflow.limits.calculators import (
    AsymptoticCalculator,
    UpperLimit,
    choose_method,
    exact_p0,
    exact_upper_limit,
    toys_upper_limit,
)
from belleflow.limits.conversion import branching_fraction, convert, register_coupling
from belleflow.limits.model import (
    Background,
    BranchingNormalisation,
    CouplingReference,
    Resolution,
    StatModel,
    SubChannel,
    Systematic,
)
from belleflow.limits.scan import PointResult, ScanSettings, run_scan
from belleflow.limits.signal import SignalGrid, SignalLibrary
from belleflow.limits.significance import GlobalSignificance, global_significance
from belleflow.limits.workspace import CountingSummary, Hypothesis, build_hypothesis

__all__ = [
    "AsymptoticCalculator",
    "Background",
    "BranchingNormalisation",
    "CountingSummary",
    "CouplingReference",
    "GlobalSignificance",
    "Hypothesis",
    "LimitResult",
    "PointResult",
    "Resolution",
    "ScanSettings",
    "SignalGrid",
    "SignalLibrary",
    "StatModel",
    "SubChannel",
    "Systematic",
    "UpperLimit",
    "branching_fraction",
    "build_hypotheses",
    "build_hypothesis",
    "choose_method",
    "compute_channel_limits",
    "compute_limits",
    "compute_limits_from_run",
    "convert",
    "exact_p0",
    "exact_upper_limit",
    "global_significance",
    "load_run_histograms",
    "register_coupling",
    "resolve_model",
    "resolve_models",
    "run_scan",
    "toys_upper_limit",
]
