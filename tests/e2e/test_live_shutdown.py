"""A dashboard left open must not hold up stopping the server: its event stream ends as the
server begins to shut down, instead of uvicorn waiting out its graceful timeout and then
cutting the connection."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Process, free_port, wait_healthy

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("command", ["up", "server"])
def test_ctrl_c_ends_open_event_streams(tmp_path: Path, command: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = Process(command, "--port", str(port), "--db", f"sqlite:///{tmp_path / 'q.db'}",
                      log=tmp_path / f"{command}.log")
    try:
        wait_healthy(url, process)
        with httpx.stream("GET", f"{url}/events", timeout=30) as response:
            lines = response.iter_lines()
            while not next(lines).startswith("data:"):
                pass
            code = process.stop(signal.SIGINT)
            list(lines)  # the server ended the stream cleanly: no RemoteProtocolError
    finally:
        process.stop()
    output = process.output()
    assert "timeout graceful shutdown exceeded" not in output
    assert "Traceback" not in output
    if command == "up":
        assert code == 0, output
