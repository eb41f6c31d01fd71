"""The dataset catalogue: data, simulation, signal samples and skims.

A catalogue is a YAML file (``datasets/belleflow.yaml`` at full scale,
``datasets/demo.yaml`` the same catalogue at a stated fraction) validated by
pydantic models and semantic checks. See ``docs/catalogue.md``.

Examples:
    >>> from belleflow.catalogue import default_catalogue_path, load_catalogue
    >>> catalogue = load_catalogue(default_catalogue_path("belleflow.yaml"))
    >>> round(catalogue.luminosity("Belle").full, 1)
    982.9
"""

from __future__ import annotations

from belleflow.catalogue.loader import (
    EXTENDABLE_KEYS,
    default_catalogue_path,
    load_catalogue,
    read_catalogue_document,
)
from belleflow.catalogue.models import (
    DATA_ROOT_ENV,
    DEFAULT_FILES,
    Catalogue,
    CatalogueError,
    DataSample,
    Kind,
    Luminosity,
    SampleView,
    SignalSample,
    SimulationSample,
    Skim,
    format_point_value,
    is_url,
)

__all__ = [
    "DATA_ROOT_ENV",
    "DEFAULT_FILES",
    "EXTENDABLE_KEYS",
    "Catalogue",
    "CatalogueError",
    "DataSample",
    "Kind",
    "Luminosity",
    "SampleView",
    "SignalSample",
    "SimulationSample",
    "Skim",
    "default_catalogue_path",
    "format_point_value",
    "is_url",
    "load_catalogue",
    "read_catalogue_document",
]
