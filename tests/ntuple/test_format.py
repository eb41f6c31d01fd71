from __future__ import annotations

from pathlib import Path

from belleflow.ntuple.format import COLLECTIONS, EVENT_BRANCHES

DOC = Path(__file__).parents[2] / "docs" / "ntuple-format.md"


def test_document_lists_every_branch() -> None:
    text = DOC.read_text()
    names = [b.name for b in EVENT_BRANCHES]
    names += [f"{c}_{b.name}" for c, spec in COLLECTIONS.items() for b in spec]
    missing = [name for name in names if f"`{name}`" not in text]
    assert not missing, f"docs/ntuple-format.md does not describe {missing}"
