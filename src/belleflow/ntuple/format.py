"""Branch-level specification of the belleflow ntuple format.

This module is the single source of truth for what a belleflow ntuple
contains; ``docs/ntuple-format.md`` describes the same content for people.
The layout follows basf2's ``VariablesToEventBasedTree``: one TTree entry per
event, bookkeeping branches with double underscores, and candidate
collections stored as jagged arrays. Collections are written by uproot as
``nTrack`` (counter) plus ``Track_px``, ``Track_py``, ... (one branch per
variable), which is also the NanoAOD convention that coffea groups.

Units: GeV for energies and momenta, cm for lengths, radians for angles.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COLLECTIONS",
    "EVENT_BRANCHES",
    "FORMAT_VERSION",
    "METADATA_NAME",
    "SIMULATION_ONLY",
    "TREE_NAME",
    "Branch",
    "branch_name",
    "counter_name",
]

#: Version of this specification, written into every file's metadata.
FORMAT_VERSION = 1
#: Name of the event TTree in every file.
TREE_NAME = "events"
#: Name of the TObjString holding the file's JSON metadata.
METADATA_NAME = "belleflow_metadata"


@dataclass(frozen=True)
class Branch:
    """One variable of the format.

    Attributes:
        name: basf2 variable name (already ROOT-compatible).
        dtype: NumPy dtype name of the stored values.
        unit: Physical unit, or ``""`` for dimensionless quantities.
        doc: One-line description.
    """

    name: str
    dtype: str
    unit: str
    doc: str


#: Event-level branches, present in every file (data and simulation).
EVENT_BRANCHES: tuple[Branch, ...] = (
    Branch("__experiment__", "int32", "", "experiment number"),
    Branch("__run__", "int32", "", "run number"),
    Branch("__event__", "uint32", "", "event number, unique within a run"),
    Branch("__production__", "int32", "", "production (generation) identifier"),
    Branch("__weight__", "float64", "", "per-event generator weight (1 for data)"),
    Branch("Ecms", "float64", "GeV", "nominal centre-of-mass energy of the run"),
    Branch("beamE", "float64", "GeV", "energy of the e+e- system in the lab frame"),
    Branch("beamPx", "float64", "GeV", "x momentum of the e+e- system in the lab frame"),
    Branch("beamPy", "float64", "GeV", "y momentum of the e+e- system in the lab frame"),
    Branch("beamPz", "float64", "GeV", "z momentum of the e+e- system in the lab frame"),
)

# Four-momenta and vertices are float64: float32 loses the invariant mass of
# a pair of few-GeV leptons below about 1 MeV to cancellation in E^2 - p^2.
_P4 = (
    Branch("px", "float64", "GeV", "momentum x component, lab frame"),
    Branch("py", "float64", "GeV", "momentum y component, lab frame"),
    Branch("pz", "float64", "GeV", "momentum z component, lab frame"),
    Branch("E", "float64", "GeV", "energy, lab frame"),
)
_MC_INDEX = Branch("mcIndex", "int32", "", "index of the matched MCParticle, -1 if none")

#: Jagged candidate collections: name -> variables. Quantities that follow
#: from the four-momentum (photon theta and phi, V0 mass) are not stored:
#: ``vector`` derives them, and duplicates would confuse its coordinates.
COLLECTIONS: dict[str, tuple[Branch, ...]] = {
    "Track": (
        *_P4[:3],
        Branch("E", "float64", "GeV", "energy under the charged-pion mass hypothesis"),
        Branch("charge", "int32", "e", "electric charge"),
        Branch("dr", "float32", "cm", "transverse distance of the POCA to the IP"),
        Branch("dz", "float32", "cm", "longitudinal distance of the POCA to the IP"),
        Branch("muonID", "float32", "", "muon likelihood ratio in [0, 1]"),
        Branch("electronID", "float32", "", "electron likelihood ratio in [0, 1]"),
        Branch("pionID", "float32", "", "pion likelihood ratio in [0, 1]"),
        Branch("kaonID", "float32", "", "kaon likelihood ratio in [0, 1]"),
        Branch("protonID", "float32", "", "proton likelihood ratio in [0, 1]"),
        Branch("nCDCHits", "int32", "", "number of CDC hits on the track"),
        Branch("clusterE", "float32", "GeV", "energy of the matched ECL cluster, 0 if none"),
        _MC_INDEX,
    ),
    "Photon": (
        *_P4,
        Branch("clusterE9E21", "float32", "", "shower shape: E(3x3) / E(5x5 minus corners)"),
        _MC_INDEX,
    ),
    "V0": (
        Branch("x", "float64", "cm", "vertex x position, lab frame"),
        Branch("y", "float64", "cm", "vertex y position, lab frame"),
        Branch("z", "float64", "cm", "vertex z position, lab frame"),
        *_P4,
        Branch("chiProb", "float32", "", "vertex-fit chi-square probability"),
        Branch("track0", "int32", "", "index in Track of the positive daughter"),
        Branch("track1", "int32", "", "index in Track of the negative daughter"),
    ),
    "MCParticle": (
        Branch("PDG", "int32", "", "PDG code"),
        Branch("mother", "int32", "", "index of the mother in MCParticle, -1 for primaries"),
        *_P4,
        Branch("prodVertexX", "float64", "cm", "production vertex x, lab frame"),
        Branch("prodVertexY", "float64", "cm", "production vertex y, lab frame"),
        Branch("prodVertexZ", "float64", "cm", "production vertex z, lab frame"),
    ),
}

#: What only simulation carries: (collection, variable) pairs, variable None
#: for the whole collection. Data files (and pseudo-data) omit them.
SIMULATION_ONLY: tuple[tuple[str, str | None], ...] = (
    ("MCParticle", None),
    ("Track", "mcIndex"),
    ("Photon", "mcIndex"),
)


def counter_name(collection: str) -> str:
    """Name of the branch counting a collection's entries (``nTrack``)."""
    return f"n{collection}"


def branch_name(collection: str, variable: str) -> str:
    """Name of the branch of one collection variable (``Track_px``)."""
    return f"{collection}_{variable}"
