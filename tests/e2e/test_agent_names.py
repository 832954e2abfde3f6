"""One name, one agent. Two agent processes under one name used to re-register over each other
and fail passing jobs as lost devices; now the second is refused (exit 2, one line) while the
first is live, takes the name over once the first is stale, and a restarted agent takes its
own name back at once. Without --name, agents on one host get names of their own."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.processes import Process, free_port, wait_healthy

pytestmark = pytest.mark.e2e

FAST = {"QGJOB_LEASE_SECONDS": "2", "QGJOB_HEARTBEAT_SECONDS": "0.5",
        "QGJOB_MAINTENANCE_SECONDS": "0.2", "QGJOB_AGENT_OFFLINE_SECONDS": "3"}


class Lab:
    def __init__(self, tmp: Path, lease_seconds: float = 2.0) -> None:
        self.tmp = tmp
        self.lease_seconds = lease_seconds
        self.url = f"http://127.0.0.1:{free_port()}"
        self.server = Process("server", "--port", self.url.rsplit(":", 1)[1],
                              "--db", f"sqlite:///{tmp / 'names.db'}",
                              log=tmp / "server.log",
                              env={**FAST, "QGJOB_LEASE_SECONDS": f"{lease_seconds:g}"})
        wait_healthy(self.url, self.server)
        self.agents: list[Process] = []

    def agent(self, host: str, *args: str, test_seconds: float = 0.2) -> Process:
        """An agent on `host` (hosts differ in where agents keep their names)."""
        started = Process("--server", self.url, "agent", "--devices", "emulator:1",
                          "--install-seconds", "0", "--test-seconds", str(test_seconds),
                          *args, log=self.tmp / f"agent-{len(self.agents)}.log",
                          env={"XDG_DATA_HOME": str(self.tmp / host)})
        self.agents.append(started)
        return started

    def online(self) -> dict[str, dict[str, Any]]:
        agents = httpx.get(f"{self.url}/agents").json()["agents"]
        return {a["name"]: a for a in agents if a["state"] == "online"}

    def wait_online(self, *names: str) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + 20
        while not set(names) <= set(online := self.online()):
            assert time.monotonic() < deadline, (online, [a.output() for a in self.agents])
            time.sleep(0.1)
        return online

    def submit(self, n: int) -> list[str]:
        jobs = [{"org_id": "acme", "app_version_id": "v1", "test_path": f"tests/t{i}.spec.js"}
                for i in range(n)]
        answer = httpx.post(f"{self.url}/jobs/batch", json={"jobs": jobs})
        return [job["job_id"] for job in answer.json()["jobs"]]

    def wait_finished(self, ids: list[str], timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            jobs = httpx.get(f"{self.url}/jobs", params={"job_id": ids, "limit": len(ids)}
                             ).json()["jobs"]
            if all(j["status"] in ("completed", "failed", "cancelled") for j in jobs):
                return list(jobs)
            assert time.monotonic() < deadline, jobs
            time.sleep(0.1)

    def stop(self) -> None:
        for agent in self.agents:
            agent.stop()
        self.server.stop()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    running = Lab(tmp_path)
    yield running
    running.stop()


@pytest.fixture
def long_lease_lab(tmp_path: Path) -> Iterator[Lab]:
    """A lease long enough for a second agent process to start and register while the
    first one's session is still live, on a loaded machine too."""
    running = Lab(tmp_path, lease_seconds=8.0)
    yield running
    running.stop()


def refusal(agent: Process) -> str:
    assert agent.popen.wait(20) == 2, agent.output()
    output = agent.output()
    assert "Traceback" not in output, output
    return output.strip().splitlines()[-1]


def test_a_second_live_agent_under_a_name_is_refused_and_no_job_is_lost(lab: Lab) -> None:
    first = lab.agent("host-a", "--name", "twin")
    agent_id = lab.wait_online("twin")["twin"]["agent_id"]
    elsewhere = refusal(lab.agent("host-b", "--name", "twin"))
    assert "another live agent holds the name 'twin'" in elsewhere and "--name" in elsewhere
    same_host = refusal(lab.agent("host-a", "--name", "twin"))
    assert "another agent on this host runs under the name 'twin'" in same_host

    jobs = lab.wait_finished(lab.submit(12))
    assert {j["status"] for j in jobs} == {"completed"}
    assert all(j["attempts"] == 1 for j in jobs), jobs
    assert lab.online()["twin"]["agent_id"] == agent_id  # never replaced
    assert first.popen.poll() is None


def test_a_stale_agents_name_is_taken_over_and_a_restart_takes_its_own_back(
    long_lease_lab: Lab,
) -> None:
    lab = long_lease_lab
    first = lab.agent("host-a", "--name", "twin", test_seconds=30)
    lab.wait_online("twin")
    [job_id] = lab.submit(1)
    deadline = time.monotonic() + 20
    while httpx.get(f"{lab.url}/jobs/{job_id}").json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    first.stop(signal.SIGKILL)
    assert "another live agent" in refusal(lab.agent("host-b", "--name", "twin"))

    time.sleep(lab.lease_seconds + 0.5)  # a lease of missed heartbeats: the session is stale
    lab.agent("host-b", "--name", "twin")
    [job] = lab.wait_finished([job_id], timeout=60)
    # it ran on the session that died, so that loss is charged, once; then it passed
    assert job["status"] == "completed" and job["attempts"] == 2, job

    taker = lab.agents[-1]
    taker_id = lab.wait_online("twin")["twin"]["agent_id"]
    taker.stop(signal.SIGKILL)
    lab.agent("host-b", "--name", "twin")  # the same host, at once: its own name back
    deadline = time.monotonic() + 20
    while (online := lab.online()).get("twin", {}).get("agent_id") in (None, taker_id):
        assert time.monotonic() < deadline, (online, lab.agents[-1].output())
        time.sleep(0.1)


def test_agents_without_a_name_on_one_host_get_names_of_their_own(lab: Lab) -> None:
    host = socket.gethostname().split(".")[0]
    lab.agent("host-a")
    lab.wait_online(host)
    lab.agent("host-a")
    lab.wait_online(host, f"{host}-2")
    jobs = lab.wait_finished(lab.submit(8))
    assert {j["status"] for j in jobs} == {"completed"}
