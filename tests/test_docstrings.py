"""Every example in the docstrings of belleflow and its channels runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import belleflow
import belleflow_channels

MODULES = sorted(
    info.name
    for package in (belleflow, belleflow_channels)
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_package_has_examples() -> None:
    # Guards the walk above: if it found no modules, every parametrised test would vanish silently.
    examples = sum(
        len(test.examples)
        for name in MODULES
        for test in doctest.DocTestFinder().find(importlib.import_module(name))
    )
    assert len(MODULES) > 50
    assert examples > 100
