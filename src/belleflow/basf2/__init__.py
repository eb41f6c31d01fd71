"""Importing basf2 ntuples (``VariablesToEventBasedTree``, ``VariablesToNtuple``).

:func:`import_file` converts one basf2 file (one tree per particle list) into
a belleflow ntuple; :mod:`belleflow.basf2.naming` undoes basf2's branch-name
mangling; :mod:`belleflow.basf2.mapping` says which basf2 variable fills which
belleflow branch. The command line is ``belleflow import-basf2``.
"""

from __future__ import annotations

from belleflow.basf2.convert import BEAM_VARIABLES, ImportOptions, ImportReport, import_file
from belleflow.basf2.mapping import COPIED, DERIVED, required_variables
from belleflow.basf2.naming import (
    decode_branch_name,
    invert_make_root_compatible,
    make_root_compatible,
)
from belleflow.basf2.reader import Basf2ImportError, Basf2Tree, inspect_file

__all__ = [
    "BEAM_VARIABLES",
    "COPIED",
    "DERIVED",
    "Basf2ImportError",
    "Basf2Tree",
    "ImportOptions",
    "ImportReport",
    "decode_branch_name",
    "import_file",
    "inspect_file",
    "invert_make_root_compatible",
    "make_root_compatible",
    "required_variables",
]
