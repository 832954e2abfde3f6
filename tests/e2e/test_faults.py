"""Real faults on real processes: agents killed or frozen mid-test, the server killed mid-run.
Whatever happens, no job is lost, every job ends in a state a user can act on, and a stale
report is refused. Executions are counted on the agents' side (their execution logs)."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.processes import Process, cli, free_port, wait_healthy

pytestmark = pytest.mark.e2e

# Short leases so a lost agent shows within seconds.
FAST = {"QGJOB_LEASE_SECONDS": "2", "QGJOB_HEARTBEAT_SECONDS": "0.5",
        "QGJOB_MAINTENANCE_SECONDS": "0.2", "QGJOB_AGENT_OFFLINE_SECONDS": "3",
        "QGJOB_RETRY_BASE_SECONDS": "0.2"}


class Cluster:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = tmp_path / "faults.db"
        self.ledger = tmp_path / "executions.log"
        self.server = self.start_server()
        self.agents: list[Process] = []

    def start_server(self) -> Process:
        server = Process("server", "--port", str(self.port), "--db", f"sqlite:///{self.db}",
                         log=self.tmp / "server.log", env=FAST)
        wait_healthy(self.url, server)
        return server

    def start_agent(self, name: str, test_seconds: float, devices: str = "emulator:1"
                    ) -> Process:
        agent = Process("--server", self.url, "agent", "--name", name, "--devices", devices,
                        "--install-seconds", "0", "--test-seconds", str(test_seconds),
                        "--execution-log", str(self.ledger), log=self.tmp / f"{name}.log")
        self.agents.append(agent)
        return agent

    def submit(self, *tests: str, app: str = "v1") -> list[str]:
        done = cli(self.url, "submit", "--org-id=acme", f"--app-version-id={app}",
                   *[f"--test={t}" for t in tests])
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    def jobs(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        response = httpx.get(f"{self.url}/jobs", params={"job_id": ids, "limit": len(ids)})
        return {j["job_id"]: j for j in response.json()["jobs"]}

    def wait_until(self, ids: list[str], status: str, timeout: float = 30.0
                   ) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                jobs = self.jobs(ids)
                if all(j["status"] == status for j in jobs.values()):
                    return jobs
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"not all {status}: {self.jobs(ids)}")
            time.sleep(0.1)

    def executions(self) -> Counter[str]:
        if not self.ledger.exists():
            return Counter()
        return Counter(line.split("\t")[0] for line in self.ledger.read_text().splitlines())

    def close(self) -> None:
        for agent in self.agents:
            agent.stop(signal.SIGKILL, timeout=5)
        self.server.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path)
    yield running
    running.close()


def test_a_killed_agents_job_finishes_on_another_agent(cluster: Cluster) -> None:
    doomed = cluster.start_agent("doomed", test_seconds=30)
    [job_id] = cluster.submit("tests/login.spec.js")
    cluster.wait_until([job_id], "running")
    doomed.stop(signal.SIGKILL)
    cluster.start_agent("rescuer", test_seconds=0.3)
    [job] = cluster.wait_until([job_id], "completed").values()
    assert job["device"] == "rescuer/emulator-1"
    assert job["attempts"] == 2 and not job["flaky"]  # a lost device is not a test failure
    assert cluster.executions() == {job_id: 1}


def test_a_killed_server_loses_nothing_and_runs_nothing_twice(cluster: Cluster) -> None:
    cluster.start_agent("lab", test_seconds=2, devices="emulator:2")
    ids = cluster.submit(*[f"tests/t{i}.spec.js" for i in range(6)])
    deadline = time.monotonic() + 20
    while not any(j["status"] == "running" for j in cluster.jobs(ids).values()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cluster.server.stop(signal.SIGKILL)
    time.sleep(3)  # longer than the lease: the agent keeps working, the server is gone
    cluster.server = cluster.start_server()
    jobs = cluster.wait_until(ids, "completed", timeout=60)
    assert all(j["attempts"] == 1 for j in jobs.values()), jobs
    assert cluster.executions() == dict.fromkeys(ids, 1)


def test_a_frozen_agents_stale_report_is_refused(cluster: Cluster) -> None:
    frozen = cluster.start_agent("frozen", test_seconds=4)
    [job_id] = cluster.submit("tests/login.spec.js")
    cluster.wait_until([job_id], "running")
    frozen.popen.send_signal(signal.SIGSTOP)
    time.sleep(3.5)  # past its 2 s lease: the job is rescued
    assert cluster.jobs([job_id])[job_id]["status"] == "queued"
    frozen.popen.send_signal(signal.SIGCONT)
    [job] = cluster.wait_until([job_id], "completed", timeout=40).values()
    assert job["attempts"] == 2
    log = frozen.output()
    assert f"report of {job_id} refused" in log
    assert "Traceback" not in log


def test_cancel_a_running_job_through_the_cli(cluster: Cluster) -> None:
    cluster.start_agent("lab", test_seconds=60)
    [job_id] = cluster.submit("tests/login.spec.js")
    cluster.wait_until([job_id], "running")
    done = cli(cluster.url, "cancel", "--job-id", job_id)
    assert done.returncode == 0 and done.stdout.strip() == f"cancelled {job_id}"
    [job] = cluster.wait_until([job_id], "cancelled", timeout=10).values()
    assert job["finished_at"] is not None
    waited = cli(cluster.url, "wait", "--job-id", job_id, "--json")
    assert waited.returncode == 1 and json.loads(waited.stdout)["status"] == "cancelled"
    assert cluster.executions() == {}  # it never ran to the end


def test_sigterm_answers_waiting_claims_and_drains(cluster: Cluster) -> None:
    """An idle device's claim is held open for up to 30 s; shutting down must not wait for
    it (uvicorn would, for up to its 10 s graceful timeout), and the agent must not crash."""
    agent = cluster.start_agent("idle", test_seconds=1)
    deadline = time.monotonic() + 10
    while not httpx.get(f"{cluster.url}/agents").json()["agents"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(1.0)  # its claim is now waiting in the server
    began = time.monotonic()
    # uvicorn re-raises the signal once it has shut down cleanly (as services conventionally
    # do, and systemd counts as a clean stop)
    assert cluster.server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    assert time.monotonic() - began < 5.0, "the shutdown waited for a long-poll claim"
    assert "Traceback" not in cluster.server.output()
    cluster.server = cluster.start_server()
    [job_id] = cluster.submit("tests/login.spec.js")
    cluster.wait_until([job_id], "completed", timeout=30)  # the agent found the new server
    assert "Traceback" not in agent.output()
