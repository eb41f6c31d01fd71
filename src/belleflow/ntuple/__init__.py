"""The belleflow ntuple format: one TTree entry per event, basf2 names."""

from __future__ import annotations

from belleflow.ntuple.format import (
    COLLECTIONS,
    EVENT_BRANCHES,
    FORMAT_VERSION,
    METADATA_NAME,
    SIMULATION_ONLY,
    TREE_NAME,
    Branch,
)
from belleflow.ntuple.io import (
    FileMetadata,
    NtupleError,
    NtupleWriter,
    check_file,
    read_metadata,
    write_ntuple,
)

__all__ = [
    "COLLECTIONS",
    "EVENT_BRANCHES",
    "FORMAT_VERSION",
    "METADATA_NAME",
    "SIMULATION_ONLY",
    "TREE_NAME",
    "Branch",
    "FileMetadata",
    "NtupleError",
    "NtupleWriter",
    "check_file",
    "read_metadata",
    "write_ntuple",
]
