"""basf2's makeROOTCompatible / invertMakeROOTCompatible, reproduced exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from belleflow.basf2.naming import (
    SUBSTITUTIONS,
    decode_branch_name,
    invert_make_root_compatible,
    make_root_compatible,
)

# Entries of basf2's table (framework/utilities/src/MakeROOTCompatible.cc)
# that a guessed table easily gets wrong.
BASF2_ENTRIES = {
    "\u00b0": "__ci",
    "\u00a7": "__pa",
    "\u00b4": "__tc",
    "%": "__pr",
    "\\": "__bl",
    "'": "__sq",
    "|": "__pi",
    "&": "__am",
    "@": "__at",
    "-": "__mi",
}


def test_table_is_basf2s() -> None:
    table = dict(SUBSTITUTIONS)
    assert len(table) == 35  # 36 entries, "-" listed twice
    for char, escape in BASF2_ENTRIES.items():
        assert table[char] == escape
    assert "__da" not in table.values()  # std::map keeps the first "-"
    # std::map order: byte order of the UTF-8 keys.
    keys = [char.encode() for char, _ in SUBSTITUTIONS]
    assert keys == sorted(keys)
    assert SUBSTITUTIONS[0] == (" ", "__sp")
    assert SUBSTITUTIONS[-1] == ("\u00b4", "__tc")


@pytest.mark.parametrize(
    ("variable", "branch"),
    [
        ("daughter(0, p)", "daughter__bo0__cm__spp__bc"),
        ("useCMSFrame(E)", "useCMSFrame__boE__bc"),
        ("invMassInLists(n0:Knn)", "invMassInLists__bon0__clKnn__bc"),
        (
            "formula(daughter(0, E) / 2 - 0.5)",
            "formula__bodaughter__bo0__cm__spE__bc__sp__sl__sp2__sp__mi__sp0__pt5__bc",
        ),
        ("extraInfo(decayModeID)", "extraInfo__bodecayModeID__bc"),
        ("isInRestOfEvent>0.5", "isInRestOfEvent__gt0__pt5"),
        ("muonID", "muonID"),
    ],
)
def test_examples(variable: str, branch: str) -> None:
    assert make_root_compatible(variable) == branch
    assert invert_make_root_compatible(branch) == variable
    assert decode_branch_name(branch) == variable


def test_characters_outside_the_table_are_deleted() -> None:
    # basf2 deletes what is neither in the table nor [a-zA-Z0-9_].
    assert make_root_compatible("p\u00e9\tx") == "px"


def test_da_is_never_undone() -> None:
    assert invert_make_root_compatible("a__da") == "a__da"
    with pytest.raises(ValueError, match="'__da' is no basf2 escape"):
        decode_branch_name("a__da")


_CHARS = "".join(char for char, _ in SUBSTITUTIONS) + "abcxyzABZ019_"


@given(st.text(alphabet=_CHARS, max_size=30).filter(lambda s: "__" not in s))
def test_round_trip(variable: str) -> None:
    # Names without "__" (basf2 warns about those) survive the round trip.
    branch = make_root_compatible(variable)
    assert set(branch) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
    assert invert_make_root_compatible(branch) == variable


@pytest.mark.parametrize(
    ("branch", "problem"),
    [
        ("p-x", "not a basf2 branch name"),
        ("", "not a basf2 branch name"),
        ("p__zz", "'__zz' is no basf2 escape"),
    ],
)
def test_decode_refuses(branch: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        decode_branch_name(branch)


def test_bookkeeping_is_kept() -> None:
    assert decode_branch_name("__ncandidates__") == "__ncandidates__"
