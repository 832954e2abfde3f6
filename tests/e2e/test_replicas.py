"""Three server replicas on one PostgreSQL database, agents attached to different ones:
1,200 jobs across many groups all complete and each runs exactly once, counted on the agents'
side, while the replica that runs maintenance is killed mid-run."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Process, free_port, wait_healthy
from tests.postgres import fresh_schema

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SETTINGS = {"QGJOB_LEASE_SECONDS": "10", "QGJOB_HEARTBEAT_SECONDS": "1",
            "QGJOB_MAINTENANCE_SECONDS": "0.2",
            "QGJOB_AGENT_OFFLINE_SECONDS": "10"}
JOBS = 1200
APPS = 30
LEADS = "this replica runs maintenance now"


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_schema() as url:
        yield url


def completed(url: str) -> int:
    groups = httpx.get(f"{url}/groups", params={"all": "true"}, timeout=10).json()["groups"]
    return sum(group["counts"].get("completed", 0) for group in groups)


def test_three_replicas_one_queue_one_killed(database: str, tmp_path: Path) -> None:
    ports = [free_port() for _ in range(3)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    ledgers = [tmp_path / f"executions{i}.log" for i in range(3)]  # one per agent
    servers: list[Process] = []
    agents: list[Process] = []
    try:
        for i, port in enumerate(ports):
            servers.append(Process("server", "--port", str(port), "--db", database,
                                   log=tmp_path / f"server{i}.log", env=SETTINGS))
        for url, server in zip(urls, servers, strict=True):
            wait_healthy(url, server)
        for i in range(3):  # each agent prefers its own replica, then the others
            preference = ",".join(urls[i:] + urls[:i])
            agents.append(Process(
                "--server", preference, "agent", "--name", f"lab{i}",
                "--devices", "emulator:4,device:2", "--install-seconds", "0.02",
                "--test-seconds", "0.05", "--execution-log", str(ledgers[i]),
                log=tmp_path / f"agent{i}.log"))

        jobs = [{"org_id": f"org{n % 4}", "app_version_id": f"build{n % APPS}",
                 "target": "emulator" if n % 3 else "device",
                 "test_path": f"tests/spec{n}.spec.js", "priority": 1 + n % 5}
                for n in range(JOBS)]
        ids: list[str] = []
        for chunk in range(0, JOBS, 200):  # submitted through every replica
            url = urls[(chunk // 200) % 3]
            answer = httpx.post(f"{url}/jobs/batch", json={"jobs": jobs[chunk:chunk + 200]},
                                timeout=30)
            assert answer.status_code == 201, answer.text
            ids += [job["job_id"] for job in answer.json()["jobs"]]

        deadline = time.monotonic() + 60
        while completed(urls[0]) < JOBS // 4:
            assert time.monotonic() < deadline, "the replicas made no progress"
            time.sleep(0.2)
        [leader] = [i for i, server in enumerate(servers) if LEADS in server.output()]
        servers[leader].stop(signal.SIGKILL)
        killed_at = time.time()
        survivors = [url for i, url in enumerate(urls) if i != leader]

        deadline = time.monotonic() + 180
        while (done := completed(survivors[0])) < JOBS:
            assert time.monotonic() < deadline, f"only {done} of {JOBS} completed"
            time.sleep(0.3)

        runs = {i: [line.split("\t") for line in ledger.read_text().splitlines()]
                for i, ledger in enumerate(ledgers)}
        executions = Counter(run[0] for agent_runs in runs.values() for run in agent_runs)
        assert set(executions) == set(ids)
        assert max(executions.values()) == 1, executions.most_common(3)
        # The agent attached to the killed replica carried on through the others.
        assert any(float(run[2]) > killed_at for run in runs[leader])
        # Maintenance moved to a surviving replica.
        assert any(LEADS in servers[i].output() for i in range(3) if i != leader)
        for process in servers + agents:
            assert "Traceback" not in process.output(), process.output()[-3000:]
    finally:
        for agent in agents:
            agent.stop(signal.SIGTERM, timeout=10)
        for server in servers:
            server.stop()
