"""Validation of the limit chain: toys on a run's histograms and full-chain injections.

``belleflow validate CHANNEL`` runs every study of :func:`validate_channel`
and writes ``DIR/CHANNEL/validation/``; see ``docs/validation.md``.
"""

from __future__ import annotations

from belleflow.validation.checks import Check
from belleflow.validation.injection import InjectionToys, run_injection
from belleflow.validation.report import write_outputs
from belleflow.validation.suite import ValidationResult, ValidationSettings, validate_channel
from belleflow.validation.toys import Ensemble, run_ensemble

__all__ = [
    "Check",
    "Ensemble",
    "InjectionToys",
    "ValidationResult",
    "ValidationSettings",
    "run_ensemble",
    "run_injection",
    "validate_channel",
    "write_outputs",
]
