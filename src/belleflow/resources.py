"""The files belleflow ships: dataset catalogues, cluster configurations, classifier models.

They are package data, found through :mod:`importlib.resources` whether
belleflow is installed from a wheel or editable from a source checkout:

- catalogues (the repository's ``datasets/``) are ``belleflow/_data/datasets``;
- cluster configurations (``deploy/``) are ``belleflow/_data/deploy``;
- classifier models are ``belleflow_channels/models/<channel>-v<N>.json``.

In the source tree ``src/belleflow/_data/datasets`` and ``.../deploy`` are
symbolic links to the top-level folders, so an editable install reads (and
edits) the repository's files, and hatchling copies the folders into the wheel.

Examples:
    >>> from belleflow import resources
    >>> resources.catalogue_path("demo.yaml").name
    'demo.yaml'
    >>> "kekcc-lsf.yaml" in resources.deploy_configs()
    True
    >>> resources.model_path("four_muon", 1).name
    'four_muon-v1.json'
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = [
    "ResourceNotFoundError",
    "catalogue_path",
    "catalogues",
    "deploy_configs",
    "deploy_dir",
    "deploy_path",
    "model_path",
    "shipped_dir",
]


class ResourceNotFoundError(FileNotFoundError):
    """A file belleflow should ship is not in the installation."""


def shipped_dir(package: str, *parts: str) -> Path:
    """A folder of package data on the file system.

    Args:
        package: The importable package holding the data (``belleflow`` or
            ``belleflow_channels``).
        *parts: Path components below the package.

    Returns:
        The folder, resolved (symbolic links followed).

    Raises:
        ResourceNotFoundError: If the folder is not in the installation, or the
            package is not installed as files (e.g. imported from a zip).
    """
    node = files(package).joinpath(*parts)
    if not isinstance(node, Path):
        msg = f"{package} is not installed as files on disk ({node}): reinstall it with pip"
        raise ResourceNotFoundError(msg)
    if not node.is_dir():
        where = "/".join((package, *parts))
        msg = f"package data folder {where} is missing from the installation ({node})"
        raise ResourceNotFoundError(msg)
    return node.resolve()


def _file(folder: Path, name: str, what: str) -> Path:
    path = folder / name
    if not path.is_file():
        known = ", ".join(
            sorted(p.name for p in folder.iterdir() if p.suffix in {".yaml", ".json"})
        )
        msg = f"shipped {what} {name!r} not found in {folder} (shipped: {known or 'none'})"
        raise ResourceNotFoundError(msg)
    return path


def catalogues() -> list[str]:
    """File names of the shipped dataset catalogues (``demo.yaml``, ``belleflow.yaml``)."""
    return sorted(p.name for p in shipped_dir("belleflow", "_data", "datasets").glob("*.yaml"))


def catalogue_path(name: str = "demo.yaml") -> Path:
    """The path of a shipped dataset catalogue.

    Args:
        name: ``demo.yaml`` (the demo, 2e-5 of the luminosity) or
            ``belleflow.yaml`` (the full catalogue).

    Raises:
        ResourceNotFoundError: If belleflow ships no such catalogue.
    """
    return _file(shipped_dir("belleflow", "_data", "datasets"), name, "catalogue")


def deploy_dir() -> Path:
    """The folder of the shipped cluster configurations (``deploy/``)."""
    return shipped_dir("belleflow", "_data", "deploy")


def deploy_configs() -> list[str]:
    """File names of the shipped cluster configurations (``slurm.yaml``, ...)."""
    return sorted(p.name for p in deploy_dir().glob("*.yaml"))


def deploy_path(name: str) -> Path:
    """The path of a shipped cluster configuration, e.g. ``kekcc-lsf.yaml``.

    Raises:
        ResourceNotFoundError: If belleflow ships no such configuration.
    """
    return _file(deploy_dir(), name, "cluster configuration")


def model_path(channel: str, version: int) -> Path:
    """Where a channel's classifier model ships: ``belleflow_channels/models/<channel>-v<N>.json``.

    The file itself may be missing (a channel importing a version not trained
    yet); the channel reports that when it loads the model.

    Args:
        channel: Channel name, e.g. ``four_muon``.
        version: Model version (the channel's training specification's ``version``).

    Raises:
        ResourceNotFoundError: If the installation has no models folder.
    """
    return shipped_dir("belleflow_channels", "models") / f"{channel}-v{version}.json"
