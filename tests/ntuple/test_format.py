from __future__ import annotations

from pathlib import Path

import pytest

from belleflow.ntuple.format import COLLECTIONS, EVENT_BRANCHES, make_root_compatible

DOC = Path(__file__).parents[2] / "docs" / "ntuple-format.md"


def test_document_lists_every_branch() -> None:
    text = DOC.read_text()
    names = [b.name for b in EVENT_BRANCHES]
    names += [f"{c}_{b.name}" for c, spec in COLLECTIONS.items() for b in spec]
    missing = [name for name in names if f"`{name}`" not in text]
    assert not missing, f"docs/ntuple-format.md does not describe {missing}"


@pytest.mark.parametrize(
    ("expression", "branch"),
    [
        ("daughter(0, p)", "daughter__bo0__cm__spp__bc"),
        ("useCMSFrame(E)", "useCMSFrame__boE__bc"),
        ("M", "M"),
        ("formula(a/b)", "formula__boa__slb__bc"),
    ],
)
def test_make_root_compatible_matches_basf2(expression: str, branch: str) -> None:
    assert make_root_compatible(expression) == branch


def test_unsupported_characters_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot make ROOT-compatible"):
        make_root_compatible("p\u00e9")
