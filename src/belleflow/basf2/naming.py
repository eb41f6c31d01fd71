"""basf2's branch-name mangling, exactly as ``framework/utilities/MakeROOTCompatible``.

basf2 turns a variable expression such as ``daughter(0, p)`` into a ROOT-safe
branch name by replacing special characters with ``__`` plus two letters
(``daughter__bo0__cm__spp__bc``) and deleting whatever else is not
``[a-zA-Z0-9_]``. Its table is a ``std::map<std::string, std::string>``, which
has two consequences this module reproduces:

* the replacements run in the map's key order (byte order of the UTF-8 keys),
  which matters for the inversion;
* the table lists ``-`` twice (``__mi`` and ``__da``); the map keeps the first,
  so basf2 writes ``__mi`` and never undoes ``__da``.

:func:`decode_branch_name` is the strict form used when importing: it refuses a
branch name basf2 cannot have written (characters outside ``[A-Za-z0-9_]``)
or one with an escape basf2 does not define (``__zz``).
"""

from __future__ import annotations

import re

__all__ = [
    "BOOKKEEPING",
    "SUBSTITUTIONS",
    "decode_branch_name",
    "invert_make_root_compatible",
    "make_root_compatible",
]

# The table in basf2's source order; "-" -> "__da" is listed but shadowed.
_SOURCE_TABLE: tuple[tuple[str, str], ...] = (
    (" ", "__sp"),
    (",", "__cm"),
    (":", "__cl"),
    ("=", "__eq"),
    ("<", "__st"),
    (">", "__gt"),
    (".", "__pt"),
    ("+", "__pl"),
    ("-", "__mi"),
    ("(", "__bo"),
    (")", "__bc"),
    ("{", "__co"),
    ("}", "__cc"),
    ("[", "__so"),
    ("]", "__sc"),
    ("`", "__to"),
    ("\u00b4", "__tc"),  # acute accent
    ("^", "__ha"),
    ("\u00b0", "__ci"),  # degree sign
    ("$", "__do"),
    ("\u00a7", "__pa"),  # section sign
    ("%", "__pr"),
    ("!", "__em"),
    ("?", "__qm"),
    (";", "__sm"),
    ("#", "__hs"),
    ("*", "__mu"),
    ("/", "__sl"),
    ("\\", "__bl"),
    ("'", "__sq"),
    ('"', "__dq"),
    ("~", "__ti"),
    ("-", "__da"),
    ("|", "__pi"),
    ("&", "__am"),
    ("@", "__at"),
)


def _as_std_map(table: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """What ``std::map`` makes of the initializer list: first key wins, byte order."""
    kept: dict[str, str] = {}
    for key, value in table:
        kept.setdefault(key, value)
    return tuple(sorted(kept.items(), key=lambda item: item[0].encode()))


#: (character, escape) pairs in the order basf2 applies them.
SUBSTITUTIONS: tuple[tuple[str, str], ...] = _as_std_map(_SOURCE_TABLE)

#: Bookkeeping branches basf2 writes itself; their double underscores are no escapes.
BOOKKEEPING = frozenset(
    {
        "__experiment__",
        "__run__",
        "__event__",
        "__production__",
        "__candidate__",
        "__ncandidates__",
        "__weight__",
        "__signalSideCandidate__",
        "__nSignalSideCandidates__",
        "__MCDecayString__",
    }
)

_NOT_ROOT_SAFE = re.compile(r"[^a-zA-Z0-9_]")
_ESCAPE = re.compile(r"__[a-z]{2}")


def make_root_compatible(name: str) -> str:
    """The branch name basf2 writes for a variable (``makeROOTCompatible``).

    Examples:
        >>> make_root_compatible("daughter(0, p)")
        'daughter__bo0__cm__spp__bc'
        >>> make_root_compatible("formula(x/2)")
        'formula__box__sl2__bc'
    """
    for char, escape in SUBSTITUTIONS:
        name = name.replace(char, escape)
    return _NOT_ROOT_SAFE.sub("", name)


def invert_make_root_compatible(name: str) -> str:
    """basf2's ``invertMakeROOTCompatible``: every escape back to its character.

    Examples:
        >>> invert_make_root_compatible("daughter__bo0__cm__spp__bc")
        'daughter(0, p)'
        >>> invert_make_root_compatible("useCMSFrame__bop__bc")
        'useCMSFrame(p)'
    """
    for char, escape in SUBSTITUTIONS:
        name = name.replace(escape, char)
    return name


def decode_branch_name(name: str) -> str:
    """The variable a basf2 branch holds, refusing names basf2 cannot have written.

    Bookkeeping branches (``__experiment__``, ...) are returned unchanged.

    Raises:
        ValueError: The name has characters outside ``[A-Za-z0-9_]``, or an
            escape basf2 does not define (it stays after the inversion).

    Examples:
        >>> decode_branch_name("daughter__bo1__cm__spmuonID__bc")
        'daughter(1, muonID)'
        >>> decode_branch_name("p__zz")
        Traceback (most recent call last):
        ...
        ValueError: branch 'p__zz': '__zz' is no basf2 escape
    """
    if name in BOOKKEEPING:
        return name
    if not name or _NOT_ROOT_SAFE.search(name):
        msg = f"branch {name!r}: not a basf2 branch name (only A-Z, a-z, 0-9 and _ are written)"
        raise ValueError(msg)
    decoded = invert_make_root_compatible(name)
    left = _ESCAPE.search(decoded)
    if left is not None:
        msg = f"branch {name!r}: {left.group()!r} is no basf2 escape"
        raise ValueError(msg)
    return decoded
