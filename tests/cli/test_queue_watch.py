"""`qgjob queue --watch` as a user runs it: refreshes until Ctrl-C, then exit 0."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.cli.test_bad_input_cli import UNREACHABLE, one_line_exit_2
from tests.cli.test_simulate import run
from tests.conftest import LiveServer
from tests.e2e.processes import free_port

JOB = {"org_id": "qualgent", "app_version_id": "xyz123", "test_path": "tests/onboarding.spec.js"}
PATIENCE = 30.0


def watch(server: str, *args: str, **streams: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "qgjob", "--server", server, "queue", "--watch",
         "--interval", "0.5", *args],
        stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_interruptible,
        **streams)  # type: ignore[call-overload]


def _interruptible() -> None:
    """Ctrl-C reaches the watch even when the suite runs with SIGINT ignored (a shell's
    background job without job control passes that on, and Python then never turns SIGINT
    into KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def read_until(fd: int, text: bytes) -> bytes:
    """Read a terminal until `text` shows (a dead process or PATIENCE seconds fail)."""
    seen = b""
    deadline = time.monotonic() + PATIENCE
    while text not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"{text!r} never showed; the screen was: {seen[-2000:]!r}"
        seen += os.read(fd, 65536)
    return seen


def test_json_watch_prints_a_line_per_refresh_until_ctrl_c(live_server: LiveServer) -> None:
    with watch(live_server.url, "--json", stdout=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        first = json.loads(process.stdout.readline())
        assert (first["queued"], first["running"]) == (0, 0)
        httpx.post(f"{live_server.url}/jobs", json=JOB).raise_for_status()
        while json.loads(process.stdout.readline())["queued"] != 1:
            pass  # each refresh is a line; the new job shows within a few
        process.send_signal(signal.SIGINT)
        assert process.wait(PATIENCE) == 0
        assert process.stderr.read() == b""


def test_live_view_on_a_terminal_until_ctrl_c(live_server: LiveServer) -> None:
    screen, terminal = pty.openpty()
    with watch(live_server.url, stdout=terminal) as process:
        os.close(terminal)
        try:
            read_until(screen, b"0 queued, 0 running")
            httpx.post(f"{live_server.url}/jobs", json=JOB).raise_for_status()
            shown = read_until(screen, b"WHY IT WAITS")  # the waiting build appears in place
            assert b"Ctrl-C to stop" in shown and b"xyz123" in shown
            process.send_signal(signal.SIGINT)
            assert process.wait(PATIENCE) == 0
        finally:
            if process.poll() is None:
                process.kill()
            os.close(screen)


def test_watching_an_unreachable_server_is_one_line_and_exit_4() -> None:
    for extra in ([], ["--json"]):
        url = f"http://127.0.0.1:{free_port()}"
        with watch(url, *extra, stdout=subprocess.PIPE) as process:
            assert process.wait(PATIENCE) == 4
            assert process.stderr is not None
            lines = process.stderr.read().decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("qgjob: error: cannot reach"), lines


@pytest.mark.parametrize("args", [["--interval", "2"], ["--interval=1.5", "--json"]])
def test_interval_without_watch_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                                 args: list[str]) -> None:
    """It was taken and ignored: the one-shot view printed, exit 0. Even at its default
    value it means nothing without --watch. Refused before any request (nothing listens)."""
    code, out, err = run(capsys, "--server", UNREACHABLE, "queue", *args)
    one_line_exit_2(code, err)
    assert "--interval needs --watch" in err and out == ""
