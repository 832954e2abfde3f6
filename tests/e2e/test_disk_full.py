"""A full disk under a real server: `prlimit --fsize` on the running server process makes every
write past the first byte of any file fail, as a full disk does. Writes answer 503 with
Retry-After while it lasts (never 500, never a hang), /health says the database refuses
writes, and once the limit is lifted the server takes writes again by itself."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import free_port

pytestmark = pytest.mark.e2e


class PipedServer:
    """The server with its output on a pipe: a file would refuse the log lines too."""

    def __init__(self, db: Path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "qgjob", "server", "--port", port, "--db", f"sqlite:///{db}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "QGJOB_MAINTENANCE_SECONDS": "0.2",
                 # the test submits thousands of jobs a second on purpose: no jobs budget
                 "QGJOB_JOB_RATE_LIMIT_PER_SECOND": "0"})
        self.lines: list[str] = []
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        deadline = time.monotonic() + 20
        while not self._healthy():
            assert time.monotonic() < deadline and self.popen.poll() is None, self.output()
            time.sleep(0.05)

    def _drain(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        return "".join(self.lines)

    def limit_file_size(self, soft: str) -> None:
        subprocess.run(["prlimit", f"--pid={self.popen.pid}", f"--fsize={soft}:"], check=True)

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        self._drainer.join(5)
        assert self.popen.stdout is not None
        self.popen.stdout.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PipedServer]:
    running = PipedServer(tmp_path / "full.db")
    yield running
    running.stop()


def small_submit(url: str, n: int) -> httpx.Response:
    return httpx.post(f"{url}/jobs", json={"org_id": "acme", "app_version_id": "v1",
                                           "test_path": f"tests/t{n}.spec.js"}, timeout=15)


def big_submit(url: str, n: int) -> httpx.Response:
    """Big enough that SQLite writes pages out before the commit (it may then roll the whole
    transaction back, savepoints and all, when the write fails)."""
    jobs = [{"org_id": "acme", "app_version_id": "v" * 190,
             "test_path": f"tests/{n}/{i}/" + "p" * 480 + ".js"} for i in range(1000)]
    return httpx.post(f"{url}/jobs/batch", json={"jobs": jobs},
                      headers={"Prefer": "return=minimal"}, timeout=15)


def hammer(url: str, seconds: float) -> Counter[str]:
    """Small and big submits from several clients at once; how each was answered."""
    answers: Counter[str] = Counter()
    deadline = time.monotonic() + seconds

    def client(k: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            try:
                send = big_submit if k < 2 else small_submit
                response = send(url, k * 100_000 + n)
            except httpx.TimeoutException:
                answers["timeout"] += 1
                continue
            answers[str(response.status_code)] += 1
            if response.status_code == 503:
                assert response.headers["retry-after"].isdigit()
                assert "refuses writes" in response.json()["detail"]

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(client, range(8)))
    return answers


def test_a_full_disk_answers_503_then_the_server_recovers_by_itself(
        server: PipedServer) -> None:
    assert small_submit(server.url, 0).status_code == 201
    assert big_submit(server.url, 0).status_code == 201

    server.limit_file_size("1")
    during = hammer(server.url, 3)
    assert set(during) <= {"201", "503"} and during["503"] > 0, (during, server.output())
    health = httpx.get(f"{server.url}/health", timeout=5)
    assert health.status_code == 503, health.text
    assert health.json()["writes"] == "refused" and health.json()["writes_refused_since"]
    assert httpx.get(f"{server.url}/jobs", timeout=5).status_code == 200  # reads still work

    server.limit_file_size("unlimited")
    deadline = time.monotonic() + 10  # the health check's own write clears the refusal
    while httpx.get(f"{server.url}/health", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.2)
    after = hammer(server.url, 2)
    assert set(after) == {"201"}, (after, server.output())
    assert server.output().count("the database refuses writes:") == 1  # once, not per request
    assert "Traceback" not in server.output(), server.output()
