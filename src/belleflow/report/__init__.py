"""The HTML report of a run: ``DIR/report.html`` (see :func:`write_report`)."""

from __future__ import annotations

from belleflow.report.build import write_report

__all__ = ["write_report"]
