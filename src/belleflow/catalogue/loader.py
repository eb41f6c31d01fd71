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
import reprlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

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


#: Largest catalogue file read, in bytes (checked before parsing).
MAX_CATALOGUE_BYTES = 4 * 2**20
#: Most YAML nodes a document may have once its aliases are expanded
#: (the full catalogue has about 1,500): stops "billion laughs" alias bombs.
MAX_EXPANDED_NODES = 100_000
#: Deepest nesting of YAML collections (PyYAML composes recursively).
MAX_NESTING = 50


def _yaml_error(message: str, mark: Any) -> yaml.MarkedYAMLError:
    return yaml.constructor.ConstructorError(None, None, message, mark)


#: libyaml's safe loader when PyYAML was built with it (30 times faster), else PyYAML's.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CatalogueLoader(_SafeLoader):  # type: ignore[misc]
    """The safe loader, made to fail cleanly on hostile input.

    On top of the safe loader it refuses: a key given twice in one mapping,
    keys that are not scalars (a list or mapping used as a key), and values
    a tag cannot convert (``!!int abc``), each as a ``yaml.MarkedYAMLError``
    carrying the line. Nesting and alias expansion are checked before
    (:func:`_check_nesting`, :func:`_check_expansion`).
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, OverflowError, ArithmeticError) as err:
            msg = f"cannot read the value tagged {node.tag!r}: {err}"
            raise _yaml_error(msg, node.start_mark) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                msg = "a mapping key must be a plain value (a name), not a list or mapping"
                raise _yaml_error(msg, key_node.start_mark)
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                context = "while constructing a mapping"
                msg = f"key {_short(key)} appears twice in this mapping"
                raise yaml.constructor.ConstructorError(
                    context, node.start_mark, msg, key_node.start_mark
                )
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def _check_nesting(text: str) -> None:
    """Refuse nesting deeper than :data:`MAX_NESTING` from the event stream.

    The parser is iterative; composing nodes is recursive (in Python or in
    libyaml), so deep input must be stopped before it is composed.
    """
    depth = 0
    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                msg = f"nested deeper than {MAX_NESTING} levels"
                raise _yaml_error(msg, event.start_mark)
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            depth -= 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse alias bombs and recursive aliases before anything is constructed.

    Counts the nodes of the document with every alias expanded, without
    expanding anything: each node's count is computed once (aliases share
    the node object) by an iterative depth-first walk.
    """
    sizes: dict[int, int] = {}
    on_path = {id(root)}
    stack = [(root, iter(_children(root)))]
    while stack:
        node, pending = stack[-1]
        child = next(pending, None)
        if child is None:
            stack.pop()
            on_path.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in _children(node))
            if sizes[id(node)] > MAX_EXPANDED_NODES:
                msg = (
                    f"more than {MAX_EXPANDED_NODES} values once its aliases are expanded "
                    "(an alias bomb?)"
                )
                raise _yaml_error(msg, node.start_mark)
            continue
        if id(child) in sizes:
            continue
        if id(child) in on_path:
            msg = "an alias refers to the collection that contains it (a recursive alias)"
            raise _yaml_error(msg, child.start_mark)
        on_path.add(id(child))
        stack.append((child, iter(_children(child))))


def _short(value: Any) -> str:
    """A bounded ``repr``: error messages never format a whole (hostile) document."""
    return _REPR.repr(value)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlevel = 2


def _parse_yaml(text: str) -> Any:
    _check_nesting(text)
    loader = _CatalogueLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _yaml_message(path: Path, err: yaml.YAMLError, text: str) -> str:
    """``path: line L, column C: invalid YAML: problem`` on one line."""
    mark: Any = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    where = ""
    if mark is not None:
        where = f"line {mark.line + 1}, column {mark.column + 1}: "
    elif isinstance(err, yaml.reader.ReaderError):
        where = f"line {text.count(chr(10), 0, err.position) + 1}: "
    if isinstance(err, yaml.MarkedYAMLError):
        parts = [p for p in (err.context, err.problem) if p]
        problem = "; ".join(parts) or type(err).__name__
    elif isinstance(err, yaml.reader.ReaderError):
        code = err.character if isinstance(err.character, int) else ord(err.character)
        problem = f"character U+{code:04X} is not allowed in YAML"
    else:
        problem = str(err)
    return f"{path}: {where}invalid YAML: {' '.join(problem.split())}"


def default_catalogue_path(name: str = "demo.yaml") -> Path:
    """A catalogue shipped in the repository's ``datasets/`` folder.

    Args:
        name: File name in ``datasets/`` (``demo.yaml`` or ``belleflow.yaml``).

    Returns:
        The path (the file exists).

    Raises:
        CatalogueError: If the file is not there (e.g. belleflow installed from
            a wheel without the ``datasets/`` folder).
    """
    path = Path(__file__).resolve().parents[3] / "datasets" / name
    if not path.is_file():
        msg = f"catalogue {name!r} not found at {path}: pass the path of a catalogue explicitly"
        raise CatalogueError(msg)
    return path


def _read_yaml(path: Path, *, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            # One byte more than allowed tells an oversized file without reading it all.
            raw = stream.read(MAX_CATALOGUE_BYTES + 1)
    except FileNotFoundError:
        msg = f"{what} not found: {path}"
        raise CatalogueError(msg) from None
    except (OSError, ValueError) as err:
        msg = f"{what} {path} cannot be read: {err}"
        raise CatalogueError(msg) from None
    if len(raw) > MAX_CATALOGUE_BYTES:
        msg = f"{path}: larger than {MAX_CATALOGUE_BYTES} bytes, not a catalogue"
        raise CatalogueError(msg)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        msg = f"{path}: line {line}: not UTF-8 text (byte 0x{raw[err.start]:02x})"
        raise CatalogueError(msg) from None
    try:
        document = _parse_yaml(text)
    except yaml.YAMLError as err:
        raise CatalogueError(_yaml_message(path, err, text)) from None
    except RecursionError:
        # Belt and braces: the nesting limit should stop this first.
        msg = f"{path}: invalid YAML: nested too deeply"
        raise CatalogueError(msg) from None
    if document is None:
        msg = f"{path}: the catalogue file is empty"
        raise CatalogueError(msg)
    if not isinstance(document, dict):
        msg = f"{path}: a catalogue must be a mapping of keys (name, data, ...), not a {type(document).__name__}"
        raise CatalogueError(msg)
    bad = [k for k in document if not isinstance(k, str)]
    if bad:
        msg = f"{path}: top-level keys must be strings, got {_short(bad[0])}"
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
        what = "catalogue file" if not chain else f"{chain[-1]}: extends: file"
        document = _read_yaml(current, what=what)
        chain.append(current)
        documents.append(document)
        if "extends" not in document:
            break
        extends = document["extends"]
        if not isinstance(extends, str) or not extends.strip() or "\x00" in extends:
            msg = f"{current}: extends: must be the path of another catalogue file, got {_short(extends)}"
            raise CatalogueError(msg)
        not_allowed = [k for k in document if k not in EXTENDABLE_KEYS]
        if not_allowed:
            msg = (
                f"{current}: {not_allowed[0]}: not allowed in a catalogue that extends another "
                f"(it inherits data, simulation, signals and skims from {extends!r}); "
                f"allowed keys: {', '.join(EXTENDABLE_KEYS)}"
            )
            raise CatalogueError(msg)
        try:
            target = (current.parent / Path(extends).expanduser()).resolve()
        except (OSError, RuntimeError, ValueError) as err:
            msg = f"{current}: extends: {_short(extends)} is not a usable path: {err}"
            raise CatalogueError(msg) from None
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
        try:
            root = (
                origin["data_root"].parent / Path(catalogue.data_root_setting).expanduser()
            ).resolve()
        except (OSError, RuntimeError, ValueError) as err:
            msg = f"{_file_label(origin, 'data_root')}: data_root: not a usable path: {err}"
            raise CatalogueError(msg) from None
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
        message += f" (got {_short(error['input'])})"
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
