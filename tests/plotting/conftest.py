"""Fixtures of the plotting tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from belleflow.plotting import brazil, spectra


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The figures the Brazil and spectrum plots would save, kept open for inspection."""
    figures: list[Any] = []

    def keep(fig: Any, stem: Path, **_: Any) -> list[Path]:
        figures.append(fig)
        return [stem.with_name(stem.name + ".png")]

    for module in (brazil, spectra):
        monkeypatch.setattr(module, "save_figure", keep)
    return figures
