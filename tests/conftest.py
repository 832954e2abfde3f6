"""Shared fixtures: a real server on an ephemeral loopback port, in a background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from qgjob.api.app import create_app
from qgjob.processes import listen_socket, qgjob_server
from qgjob.settings import ServerSettings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class LiveServer:
    url: str
    settings: ServerSettings
    server: uvicorn.Server


@contextmanager
def serve(settings: ServerSettings) -> Iterator[LiveServer]:
    sock = listen_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = qgjob_server(create_app(settings), settings, access_log=False, log_level="warning",
                          handle_signals=False)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, server)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def fast_settings(tmp_path: Path, **changes: object) -> ServerSettings:
    """Short heartbeats, leases and backoffs so behaviour over time shows in a test run."""
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'live.db'}",
        "heartbeat_seconds": 0.2, "lease_seconds": 2.0, "claim_wait_seconds": 2.0,
        "claim_poll_seconds": 0.5, "maintenance_seconds": 0.1, "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.2, "agent_offline_seconds": 2.0,
        "artifact_dir": str(tmp_path / "artifacts"),
    }
    values.update(changes)
    return ServerSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    with serve(fast_settings(tmp_path)) as live:
        yield live
