"""A real agent runs a test that prints a NUL and fails: on both stores the job ends `failed`
at once (no refused report, no retried report, no lost device), and its logs and error keep
all the text, the NUL shown as U+FFFD."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Process, free_port, wait_healthy
from tests.postgres import BACKENDS, database_url

pytestmark = pytest.mark.e2e

PRINTS_NUL = (f"{sys.executable} -c \"import sys; sys.stdout.write('before\\0after\\n'); "
              "sys.exit(1)\"")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def test_a_test_that_prints_nul_fails_once_with_all_its_output(tmp_path: Path,
                                                                db_url: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    server = Process("server", "--port", url.rsplit(":", 1)[1], "--db", db_url,
                     log=tmp_path / "server.log")
    agent = None
    try:
        wait_healthy(url, server)
        agent = Process("--server", url, "agent", "--name", "nul", "--devices", "emulator:1",
                        "--executor", "command", "--run-cmd", PRINTS_NUL,
                        log=tmp_path / "agent.log")
        job_id = httpx.post(f"{url}/jobs", json={
            "org_id": "acme", "app_version_id": "v1", "test_path": "tests/nul.spec.js",
            "max_attempts": 1}).json()["job_id"]
        deadline = time.monotonic() + 30
        while (job := httpx.get(f"{url}/jobs/{job_id}").json())["status"] != "failed":
            assert time.monotonic() < deadline, (job, agent.output(), server.output())
            time.sleep(0.2)
        assert "before\ufffdafter" in job["error"], job
        assert job["attempts"] == 1
        logs = httpx.get(f"{url}/jobs/{job_id}/logs").text
        assert "before\ufffdafter\n" in logs, logs
        assert "refused" not in agent.output() and "Traceback" not in server.output()
    finally:
        if agent is not None:
            agent.stop()
        server.stop()
