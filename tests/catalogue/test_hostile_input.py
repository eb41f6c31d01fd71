"""The catalogue loader never crashes: hostile YAML, bytes and values are clean errors.

Every case is a file on disk as an operator would write (or break) it; the
error must be a :class:`CatalogueError` whose message starts with the file
and, for YAML problems, names the line.
"""

from __future__ import annotations

import resource
import shutil
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from belleflow.catalogue import DATA_ROOT_ENV, CatalogueError, load_catalogue
from belleflow.catalogue.loader import MAX_CATALOGUE_BYTES

DATASETS = Path(__file__).parents[2] / "datasets"
SHIPPED = {name: (DATASETS / name).read_bytes() for name in ("belleflow.yaml", "demo.yaml")}

BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{x}: &{x} [{','.join([f'*{p}'] * 9)}]"
            for p, x in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "name: [*i]",
    ]
)


@pytest.fixture(autouse=True)
def _no_env_data_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)


def load_error(path: Path) -> str:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    return message


def test_alias_bomb_is_refused_fast_and_small(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")
    assert len(BOMB) < 600
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tic = time.perf_counter()
    message = load_error(path)
    assert time.perf_counter() - tic < 2.0
    # ru_maxrss is in KiB on Linux: the 387-million-value expansion never happens.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024
    assert "alias" in message
    assert "line " in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"name: x\n\xff\xfe: 1\n", "line 2: not UTF-8"),
        (b"name: !!int abc\n", "line 1, column 7"),
        (b"name: !!float [1]\n", "line 1"),
        (b"name: x\n? [1, 2]\n: 3\n", "line 2, column 3: invalid YAML: a mapping key"),
        (b"name: x\n{a: 1}: 3\n", "line 2"),
        (b"a: &a [*a]\nname: x\n", "recursive alias"),
        (b"name: x\x00\n", "line 1: invalid YAML: character U+0000"),
        (b"name: " + b"[" * 5000 + b"]" * 5000, "nested deeper than"),
        (b"name: " + b"{a: " * 3000 + b"1" + b"}" * 3000, "nested deeper than"),
        (b"name: x\nname: y\n", "line 2, column 1: invalid YAML: while constructing"),
        (b"name: !!python/object:os.system x\n", "line 1"),
        (b"- a\n- b\n", "must be a mapping"),
        (b'name: x\nextends: "a\\0b"\n', "extends:"),
    ],
)
def test_bad_yaml_is_a_clean_error_naming_file_and_line(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    message = load_error(path)
    assert expected in message
    assert "\n" not in message


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"name: x\n" + b"#" * MAX_CATALOGUE_BYTES)
    assert "larger than" in load_error(path)


def full_catalogue(tmp_path: Path, old: str, new: str) -> Path:
    text = SHIPPED["belleflow.yaml"].decode()
    assert old in text
    path = tmp_path / "belleflow.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("luminosity: 362.0", "luminosity: .inf", "luminosity: Input should be a finite number"),
        ("luminosity: 362.0", "luminosity: .nan", "finite number"),
        ("luminosity: 362.0", "luminosity: -362.0", "greater than 0"),
        ("luminosity: 362.0", "luminosity: true", "luminosity: a boolean (true)"),
        ("events: 6.1e8", "events: true", "events: a boolean (true)"),
        ("events_per_point: 20000", "events_per_point: false", "a boolean (false)"),
        ("scale: ", "scale: .inf #", "finite"),
    ],
)
def test_implausible_values_are_refused(tmp_path: Path, old: str, new: str, expected: str) -> None:
    if old == "scale: ":
        path = tmp_path / "demo.yaml"
        shutil.copy(DATASETS / "belleflow.yaml", tmp_path / "belleflow.yaml")
        text = SHIPPED["demo.yaml"].decode()
        assert old in text
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    else:
        path = full_catalogue(tmp_path, old, new)
    assert expected in load_error(path)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("data/{name/*.root", "unbalanced"),
        ("data/name}/*.root", "unbalanced"),
        ("data/[ab/*.root", "unclosed '['"),
        ("root://host//store/a b.root", "a URL cannot hold spaces"),
        (" data/x.root", "leading or trailing spaces"),
        ("data/\tx.root", "control character"),
    ],
)
def test_malformed_patterns_are_refused(tmp_path: Path, pattern: str, expected: str) -> None:
    text = SHIPPED["belleflow.yaml"].decode()
    anchor = "    luminosity_source:"
    assert anchor in text
    path = tmp_path / "belleflow.yaml"
    quoted = yaml.safe_dump(pattern, default_style='"').strip()
    path.write_text(text.replace(anchor, f"    files: [{quoted}]\n{anchor}", 1), encoding="utf-8")
    message = load_error(path)
    assert "malformed pattern" in message
    assert expected in message


# ------------------------------------------------------------------ fuzzing

SNIPPETS = [
    "*a",
    "&a ",
    "!!int ",
    "!!float ",
    "!!binary ",
    "!!timestamp ",
    "!!python/object:os.system ",
    "{",
    "}",
    "[",
    "]",
    ": ",
    "? ",
    "- ",
    ".inf",
    "-.inf",
    ".nan",
    "-1",
    "0",
    "true",
    "~",
    "\t",
    "\n",
    "'",
    '"',
    "\\",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "<<: *a\n",
    "\x00",
    "\ufeff",
    "1e400",
    "99999999999999999999999",
    "{name}",
    "{mass",
    "root://u:p@h//f?authz=x",
]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SHIPPED)))
    data = bytearray(SHIPPED[name])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert-bytes", "delete", "replace", "snippet"]))
        if kind == "insert-bytes":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "replace":
            data[at : at + 1] = draw(st.binary(min_size=1, max_size=1))
        else:
            data[at:at] = draw(st.sampled_from(SNIPPETS)).encode()
    return name, bytes(data)


@settings(
    max_examples=500,
    database=None,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutated())
def test_fuzzed_shipped_catalogues_never_crash(tmp_path: Path, case: tuple[str, bytes]) -> None:
    name, data = case
    folder = tmp_path / "fuzz"
    folder.mkdir(exist_ok=True)
    (folder / "belleflow.yaml").write_bytes(SHIPPED["belleflow.yaml"])
    path = folder / name
    path.write_bytes(data)
    tic = time.perf_counter()
    message = ""
    try:
        load_catalogue(path)
    except CatalogueError as err:
        message = str(err)
    # Any other exception fails the test; a refusal names the file it read.
    assert not message or message.startswith(str(folder)), message
    assert time.perf_counter() - tic < 5.0
