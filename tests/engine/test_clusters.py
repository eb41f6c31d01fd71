"""Every LocalCluster the project starts is the tuned one (``executors.local_cluster``).

Each entry point runs until it starts its cluster; ``distributed.LocalCluster``
is replaced by a recorder that stops it there, so no cluster starts. A real
cluster's workers are checked once.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Self

import dask
import distributed
import nbformat
import pytest
from typer.testing import CliRunner

from belleflow import demo
from belleflow.cli import app
from belleflow.engine import executors as executors_module
from belleflow.engine import run_channels
from belleflow.engine.executors import (
    LOOPBACK,
    IgnoreInterruptsPlugin,
    TuneAllocatorPlugin,
    local_cluster,
)
from belleflow.limits.scan import run_scan
from belleflow.processor import Channel

REPO = Path(__file__).resolve().parents[2]


class _Started(Exception):
    """Raised by the recorder instead of starting a cluster."""


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The options of every LocalCluster started (none really is)."""
    calls: list[dict[str, Any]] = []

    def record(**options: Any) -> Any:
        calls.append(options)
        raise _Started

    monkeypatch.setattr(distributed, "LocalCluster", record)
    return calls


def _assert_tuned(calls: list[dict[str, Any]]) -> None:
    [options] = calls
    assert options["host"] == LOOPBACK
    assert options["dashboard_address"].startswith(f"{LOOPBACK}:")
    assert options["processes"] is True
    assert options["config"]["distributed"]["worker"]["profile"]["enabled"] is False
    assert options["config"]["distributed"]["admin"]["system-monitor"]["gil"]["enabled"] is False
    assert {type(p) for p in options["plugins"]} == {TuneAllocatorPlugin, IgnoreInterruptsPlugin}


def test_run_starts_the_tuned_cluster(
    started: list[dict[str, Any]], small_catalogue: Path, dimuon_channel: Channel
) -> None:
    with pytest.raises(_Started):
        run_channels(
            [dimuon_channel], catalogue=small_catalogue, executor="local", out=None,
            progress=False, echo=lambda _: None,
        )  # fmt: skip
    _assert_tuned(started)


def test_demo_starts_the_tuned_cluster(
    started: list[dict[str, Any]],
    small_catalogue: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo, "produce", lambda *_, **__: SimpleNamespace(written=[], skipped=[]))
    with pytest.raises(_Started):
        demo.run_demo(
            catalogue=small_catalogue, out=tmp_path / "demo", channels=["four_muon"],
            progress=False, echo=lambda _: None,
        )  # fmt: skip
    _assert_tuned(started)


def test_limits_start_the_tuned_cluster(started: list[dict[str, Any]], tmp_path: Path) -> None:
    (tmp_path / "four_muon").mkdir()
    (tmp_path / "four_muon" / "report.json").write_text(json.dumps({"complete": True}))
    result = CliRunner().invoke(
        app, ["limits", "four_muon", "--in", str(tmp_path), "--executor", "local"]
    )
    assert isinstance(result.exception, _Started), result.output
    _assert_tuned(started)
    started.clear()
    with pytest.raises(_Started):
        run_scan([SimpleNamespace(name="point")], SimpleNamespace(), executor="local")  # type: ignore[list-item, arg-type]
    _assert_tuned(started)


@pytest.mark.parametrize("name", ["quickstart.ipynb", "facility.ipynb"])
def test_notebooks_start_the_tuned_cluster(name: str) -> None:
    notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "local_cluster(" in code
    assert "LocalCluster(" not in code


def test_every_worker_is_tuned_also_those_started_later() -> None:
    def state() -> tuple[Any, Any, Any]:
        return (
            dask.config.get("distributed.worker.profile.enabled"),
            dask.config.get("distributed.admin.system-monitor.gil.enabled"),
            # Read, not called: calling would tune it here.
            executors_module._allocator_tuned,
        )

    with (
        local_cluster(1, dashboard_address=f"{LOOPBACK}:0", memory_limit="1GiB") as cluster,
        distributed.Client(cluster) as client,
    ):
        cluster.scale(2)
        client.wait_for_workers(2)
        assert list(client.run(state).values()) == [(False, False, True)] * 2


def test_a_taken_dashboard_port_is_replaced_by_a_free_one_without_a_warning() -> None:
    """Dask warns (an error under this suite's filterwarnings) when asked for a taken port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert executors_module._dashboard_address(port) == f"{LOOPBACK}:0"
    assert executors_module._dashboard_address(port) == f"{LOOPBACK}:{port}"


def test_the_nanny_is_quiet_while_our_cluster_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Killing a slow-exiting worker at the end of a run is not news to the user."""
    nanny_log = logging.getLogger("distributed.nanny")
    levels: list[int] = []

    class FakeCluster:
        def __enter__(self) -> Self:
            return self

        def __exit__(self, *_: object) -> None:
            levels.append(nanny_log.level)

    class FakeClient(FakeCluster):
        dashboard_link = None

        def register_plugin(self, plugin: object) -> None:
            del plugin

    monkeypatch.setattr(executors_module, "local_cluster", lambda *_, **__: FakeCluster())
    monkeypatch.setattr(executors_module, "_connect", lambda *_: FakeClient())
    before = nanny_log.level
    with executors_module.open_client("local", workers=1, echo=lambda _: None):
        assert nanny_log.level == before
    # Client then cluster closed with the nanny at ERROR; its level restored afterwards.
    assert levels == [logging.ERROR, logging.ERROR]
    assert nanny_log.level == before
