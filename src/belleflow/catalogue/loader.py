"""Loading a catalogue YAML file: ``extends``, ``data_root`` and error messages.

The YAML is parsed with PyYAML's safe loader (a subclass of
``yaml.SafeLoader`` that also rejects a key repeated in one mapping), then
validated by :class:`belleflow.catalogue.models.Catalogue`. Every problem is
raised as :class:`CatalogueError` whose message starts with the YAML file and
names the entry and the key, e.g.::

    datasets/belleflow.yaml: simulation[3] 'belle2_4S_mumu': process: unknown process 'mumuu'

``extends``
    A catalogue may extend another (path relative to its own folder) and
    override only ``name``, ``description``, ``scale``, ``data_root`` and
    ``signal_events_per_point``; it inherits everything else, so a reduced
    catalogue cannot drift from the full one.

``data_root``
    Relative file patterns start from ``data_root``. Precedence: the
    ``data_root=`` argument of :func:`load_catalogue`, then the environment
    variable ``BELLEFLOW_DATA_ROOT`` (both relative to the working directory
    if relative), then the ``data_root`` key (relative to the folder of the YAML
    file that sets it), then the folder of the loaded YAML file.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from belleflow import resources
from belleflow.catalogue.models import (
    DATA_ROOT_ENV,
    Catalogue,
    CatalogueError,
    DataSample,
    SignalSample,
    SimulationSample,
    Skim,
)

__all__ = [
    "EXTENDABLE_KEYS",
    "default_catalogue_path",
    "load_catalogue",
    "read_catalogue_document",
]

#: Keys a catalogue that ``extends`` another may set.
EXTENDABLE_KEYS = (
    "extends",
    "name",
    "description",
    "scale",
    "data_root",
    "signal_events_per_point",
)
_SECTIONS: dict[str, type[BaseModel]] = {
    "data": DataSample,
    "simulation": SimulationSample,
    "signals": SignalSample,
    "skims": Skim,
}
_MAX_EXTENDS_DEPTH = 8


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                context = "while constructing a mapping"
                msg = f"key {key!r} appears twice in this mapping"
                raise yaml.constructor.ConstructorError(
                    context, node.start_mark, msg, key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def default_catalogue_path(name: str = "demo.yaml") -> Path:
    """A catalogue belleflow ships (the repository's ``datasets/``, package data).

    Args:
        name: ``demo.yaml`` or ``belleflow.yaml``.

    Returns:
        The path (the file exists): see :func:`belleflow.resources.catalogue_path`.

    Raises:
        CatalogueError: If belleflow ships no such catalogue.
    """
    try:
        return resources.catalogue_path(name)
    except resources.ResourceNotFoundError as err:
        msg = f"{err}: pass the path of a catalogue explicitly"
        raise CatalogueError(msg) from None


def _read_yaml(path: Path, *, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"{what} not found: {path}"
        raise CatalogueError(msg) from None
    except OSError as err:
        msg = f"{what} {path} cannot be read: {err}"
        raise CatalogueError(msg) from None
    try:
        document = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as err:
        msg = f"{path}: invalid YAML: {err}"
        raise CatalogueError(msg) from None
    if document is None:
        msg = f"{path}: the catalogue file is empty"
        raise CatalogueError(msg)
    if not isinstance(document, dict):
        msg = f"{path}: a catalogue must be a mapping of keys (name, data, ...), not a {type(document).__name__}"
        raise CatalogueError(msg)
    bad = [k for k in document if not isinstance(k, str)]
    if bad:
        msg = f"{path}: top-level keys must be strings, got {bad[0]!r}"
        raise CatalogueError(msg)
    return document


def read_catalogue_document(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Path]]:
    """Read a catalogue YAML file and merge the chain of ``extends``.

    Args:
        path: The YAML file.

    Returns:
        The merged document, and for each top-level key the file that set it
        (plus ``"__top__"``: the file that was read first).

    Raises:
        CatalogueError: For unreadable or invalid YAML, ``extends`` pointing
            nowhere or in a cycle, or keys an extending file may not set.
    """
    chain: list[Path] = []
    current = Path(path).expanduser().resolve()
    documents: list[dict[str, Any]] = []
    while True:
        what = "catalogue file" if not chain else f"catalogue {chain[-1]}: extends: file"
        document = _read_yaml(current, what=what)
        chain.append(current)
        documents.append(document)
        if "extends" not in document:
            break
        extends = document["extends"]
        if not isinstance(extends, str) or not extends.strip():
            msg = f"{current}: extends: must be the path of another catalogue file, got {extends!r}"
            raise CatalogueError(msg)
        not_allowed = [k for k in document if k not in EXTENDABLE_KEYS]
        if not_allowed:
            msg = (
                f"{current}: {not_allowed[0]}: not allowed in a catalogue that extends another "
                f"(it inherits data, simulation, signals and skims from {extends!r}); "
                f"allowed keys: {', '.join(EXTENDABLE_KEYS)}"
            )
            raise CatalogueError(msg)
        target = (current.parent / Path(extends).expanduser()).resolve()
        if target in chain:
            cycle = " -> ".join(str(p) for p in [*chain, target])
            msg = f"{current}: extends: cycle of catalogues: {cycle}"
            raise CatalogueError(msg)
        if len(chain) >= _MAX_EXTENDS_DEPTH:
            msg = f"{current}: extends: more than {_MAX_EXTENDS_DEPTH} levels of extends"
            raise CatalogueError(msg)
        current = target

    merged: dict[str, Any] = {}
    origin: dict[str, Path] = {}
    # From the most basic catalogue to the loaded one: later files override.
    for file, document in zip(reversed(chain), reversed(documents), strict=True):
        for key, value in document.items():
            if key == "extends":
                continue
            merged[key] = value
            origin[key] = file
    origin.setdefault("data_root", chain[0])
    origin["__top__"] = chain[0]
    return merged, origin


def load_catalogue(
    path: str | os.PathLike[str], *, data_root: str | os.PathLike[str] | None = None
) -> Catalogue:
    """Load and validate a catalogue.

    Args:
        path: The YAML file.
        data_root: Overrides the catalogue's ``data_root`` (and
            ``$BELLEFLOW_DATA_ROOT``).

    Returns:
        The validated catalogue, with :attr:`Catalogue.data_root` resolved.

    Raises:
        CatalogueError: For any schema or semantic problem, naming the file,
            the entry and the key. File existence is not checked here: use
            :meth:`Catalogue.check_files` or :meth:`Catalogue.resolve_files`.
    """
    document, origin = read_catalogue_document(path)
    top = origin["__top__"]
    try:
        catalogue = Catalogue.model_validate(document)
    except ValidationError as err:
        raise CatalogueError(_format_errors(err, document, origin)) from None

    if data_root is not None:
        root = Path(data_root).expanduser().resolve()
    elif os.environ.get(DATA_ROOT_ENV):
        root = Path(os.environ[DATA_ROOT_ENV]).expanduser().resolve()
    elif "data_root" in document:
        root = (origin["data_root"].parent / Path(document["data_root"]).expanduser()).resolve()
    else:
        root = top.parent
    return catalogue._bind(top, root)  # the loader owns the binding


# ------------------------------------------------------------------ messages


def _file_label(origin: dict[str, Path], key: str) -> str:
    top = origin["__top__"]
    file = origin.get(key, top)
    return str(file) if file == top else f"{file} (extended by {top})"


def _entry_label(document: dict[str, Any], section: str, index: int) -> str:
    entries = document.get(section)
    name = None
    if isinstance(entries, list) and index < len(entries) and isinstance(entries[index], dict):
        name = entries[index].get("name")
    return f"{section}[{index}] {name!r}" if isinstance(name, str) else f"{section}[{index}]"


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _describe(error: ErrorDetails, model: type[BaseModel] | None, key: str) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "extra_forbidden" and loc:
        unknown = str(loc[-1])
        allowed = _allowed_keys(model) if model is not None else []
        close = difflib.get_close_matches(unknown, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listed = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {unknown!r}{hint}{listed}"
    if kind == "missing" and loc:
        return f"missing key {loc[-1]!r}"
    message = error["msg"].removeprefix("Value error, ")
    if kind != "value_error":
        shown = repr(error["input"])
        if len(shown) <= 60:
            message += f" (got {shown})"
    return f"{key}: {message}" if key else message


def _format_errors(err: ValidationError, document: dict[str, Any], origin: dict[str, Path]) -> str:
    lines: list[tuple[str, str]] = []  # (file label, "where: message")
    for error in err.errors():
        loc = tuple(error["loc"])
        if error["type"] == "catalogue_semantics":
            for where, message in error.get("ctx", {}).get("problems", []):
                section = where.split("[", 1)[0]
                lines.append((_file_label(origin, section), f"{where}: {message}"))
            continue
        if loc and loc[0] in _SECTIONS and len(loc) >= 2 and isinstance(loc[1], int):
            section = str(loc[0])
            where = _entry_label(document, section, loc[1])
            rest = loc[2:]
            model: type[BaseModel] | None = _SECTIONS[section] if len(rest) <= 1 else None
            file_key = section
        else:
            where = "top level"
            rest = loc
            model = Catalogue if len(rest) <= 1 else None
            file_key = str(loc[0]) if loc else "__top__"
        if error["type"] in {"extra_forbidden", "missing"}:
            key = _key_path(rest[:-1])
            text = _describe(error, model, "")
            text = f"{key}: {text}" if key else text
        else:
            text = _describe(error, model, _key_path(rest))
        lines.append((_file_label(origin, file_key), f"{where}: {text}"))
    if len(lines) == 1:
        file, text = lines[0]
        return f"{file}: {text}"
    files = dict.fromkeys(f for f, _ in lines)
    if len(files) == 1:
        body = "\n".join(f"  - {t}" for _, t in lines)
        return f"{next(iter(files))}: {len(lines)} problems:\n{body}"
    body = "\n".join(f"  - {f}: {t}" for f, t in lines)
    return f"{origin['__top__']}: {len(lines)} problems:\n{body}"
