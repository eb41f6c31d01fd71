"""Secrets never written: a token planted in file URLs appears in no output, cache or log.

The files are served by a real HTTP server on 127.0.0.1 that refuses any
request without the token, so the run can only succeed by using the full
URL; then every byte the runs wrote (outputs, stored chunks, the metadata
cache) and printed (stdout and stderr of the command and of its Dask
workers) is searched for the token and the password.
"""

from __future__ import annotations

import http.server
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

TOKEN = "tok3n-S3CRET-4f9a"
PASSWORD = "pa55-S3CRET-77"


class _TokenRangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves files of ``root`` with Range support, only to requests carrying the token."""

    root: Path
    requests: list[str]

    def _target(self) -> Path | None:
        parts = urlsplit(self.path)
        self.requests.append(self.path)
        if parse_qs(parts.query).get("authz") != [TOKEN]:
            self.send_error(403)
            return None
        target = self.root / parts.path.lstrip("/")
        if not target.is_file():
            self.send_error(404)
            return None
        return target

    def do_HEAD(self) -> None:
        target = self._target()
        if target is not None:
            self.send_response(200)
            self.send_header("Content-Length", str(target.stat().st_size))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()

    def do_GET(self) -> None:
        target = self._target()
        if target is None:
            return
        data = target.read_bytes()
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", "").strip())
        if match:
            start = int(match.group(1))
            stop = int(match.group(2)) + 1 if match.group(2) else len(data)
            body = data[start:stop]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{start + len(body) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Quiet: the test reads what the client side prints."""


@pytest.fixture
def server(small_catalogue: Path) -> Iterator[tuple[str, list[str]]]:
    """``(base URL, requests seen)`` of a token-checking HTTP server over the fixture files."""
    requests: list[str] = []
    handler = type(
        "Handler", (_TokenRangeHandler,), {"root": small_catalogue.parent, "requests": requests}
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()
    httpd.server_close()


def url(host: str, path: str, *, user: bool = False) -> str:
    who = f"alice:{PASSWORD}@" if user else ""
    return f"http://{who}{host}/{path}?authz={TOKEN}"


def test_planted_token_appears_in_no_output(
    small_catalogue: Path,
    slow_channel: str,
    tmp_path: Path,
    server: tuple[str, list[str]],
    belleflow: Any,
    corrupt_basket: Any,
) -> None:
    host, requests = server
    root = small_catalogue.parent
    shutil.copy(root / "mc" / "b2mumu" / "f2.root", root / "mc" / "b2mumu" / "f2_bad.root")
    corrupt_basket(root / "mc" / "b2mumu" / "f2_bad.root")
    mumu = [url(host, f"mc/b2mumu/f{i}.root", user=i == 0) for i in (0, 1)]
    text = small_catalogue.read_text(encoding="utf-8")
    text = text.replace(
        "{name: b2mumu, process: mumu, stands_for: [b2data], events: 651}",
        "{name: b2mumu, process: mumu, stands_for: [b2data], events: 651, files: ["
        + ", ".join(f'"{u}"' for u in [*mumu, url(host, "mc/b2mumu/f2_bad.root")])
        + "]}",
    )
    remote = tmp_path / "remote.yaml"
    remote.write_text(text, encoding="utf-8")
    text = text.replace(
        "{name: b2tautau, process: tautau, stands_for: [b2data], events: 417}",
        "{name: b2tautau, process: tautau, stands_for: [b2data], events: 417, files: ["
        f'"mc/b2tautau/*.root", "{url(host, "mc/b2tautau/gone.root")}"]}}',
    )
    missing = tmp_path / "missing.yaml"
    missing.write_text(text, encoding="utf-8")
    out, cache = tmp_path / "out", tmp_path / "cache"
    env = {"BELLEFLOW_CACHE": str(cache)}
    common = ["run", slow_channel, "--out", str(out), "--chunksize", "100", "--retries", "0"]
    common += ["--no-progress"]
    printed = []
    # 1. A Dask worker fails on the corrupted remote chunk and logs the failed task.
    first = belleflow(
        *common, "--catalogue", str(remote), "--executor", "local", "--workers", "1", env=env
    )
    printed += first.communicate(timeout=300)
    assert first.returncode == 1, printed
    assert "Compute Failed" in printed[1]  # the worker's log of the task, arguments included
    assert "error: channel 'slow': http://127.0.0.1" in printed[1]
    # 2. A missing remote file stops the planning.
    second = belleflow(*common, "--catalogue", str(missing), "--executor", "iterative", env=env)
    printed += second.communicate(timeout=300)
    assert second.returncode == 1, printed
    assert "gone.root?REDACTED cannot be opened" in printed[-1]
    # 3. Skipping: the missing file and the failed chunk end up in the report.
    third = belleflow(
        *common, "--catalogue", str(missing), "--executor", "iterative", "--skip-bad-files", env=env
    )
    printed += third.communicate(timeout=300)
    assert third.returncode == 0, printed

    # The server was asked with the token: the full URL was used to read.
    assert any(TOKEN in request for request in requests)
    report = (out / "slow" / "report.json").read_text(encoding="utf-8")
    assert f"http://REDACTED@{host}/mc/b2mumu/f0.root?REDACTED" in report
    assert "gone.root?REDACTED" in report
    assert "f2_bad.root?REDACTED|" in report  # the failed chunk, named without its secret
    assert list((out / ".checkpoints").rglob("*.json"))  # incomplete: chunks stay stored
    written = [p for folder in (out, cache) for p in folder.rglob("*") if p.is_file()]
    assert cache / "files.sqlite" in written
    for secret in (TOKEN, PASSWORD):
        for path in written:
            assert secret.encode() not in path.read_bytes(), path
        for stream in printed:
            assert secret not in stream, stream
