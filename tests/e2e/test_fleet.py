"""Fleet operations with real processes: draining an agent mid-run loses nothing and its
current job completes; a device failing installs leaves the rotation and its jobs run
elsewhere; the history of such a run exports as a trace `qgjob simulate` reads."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.processes import Process, cli, free_port, wait_healthy

pytestmark = pytest.mark.e2e

FAST = {"QGJOB_LEASE_SECONDS": "3", "QGJOB_HEARTBEAT_SECONDS": "0.5",
        "QGJOB_MAINTENANCE_SECONDS": "0.2", "QGJOB_AGENT_OFFLINE_SECONDS": "3",
        "QGJOB_RETRY_BASE_SECONDS": "0.2"}


class Lab:
    def __init__(self, tmp: Path, **env: str) -> None:
        self.tmp = tmp
        self.url = f"http://127.0.0.1:{free_port()}"
        self.server = Process("server", "--port", self.url.rsplit(":", 1)[1],
                              "--db", f"sqlite:///{tmp / 'fleet.db'}",
                              log=tmp / "server.log", env={**FAST, **env})
        wait_healthy(self.url, self.server)
        self.agents: dict[str, Process] = {}

    def agent(self, name: str, *args: str, test_seconds: float = 0.3) -> Process:
        self.agents[name] = Process(
            "--server", self.url, "agent", "--name", name, "--devices", "emulator:1",
            "--install-seconds", "0.1", "--test-seconds", str(test_seconds), *args,
            log=self.tmp / f"agent-{name}.log")
        self.until(lambda: name in {a["name"] for a in self.get("/agents")["agents"]
                                    if a["state"] == "online"}, f"{name} online")
        return self.agents[name]

    def get(self, path: str) -> Any:
        return httpx.get(f"{self.url}{path}", timeout=5).json()

    def submit(self, builds: list[str], per_build: int) -> list[str]:
        jobs = [{"org_id": "acme", "app_version_id": build, "test_path": f"tests/t{i}.spec.js"}
                for build in builds for i in range(per_build)]
        answer = httpx.post(f"{self.url}/jobs/batch", json={"jobs": jobs}, timeout=5)
        return [job["job_id"] for job in answer.json()["jobs"]]

    def jobs(self, ids: list[str]) -> list[dict[str, Any]]:
        return [self.get(f"/jobs/{job_id}") for job_id in ids]

    def until(self, done: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while not (answer := done()):
            assert time.monotonic() < deadline, f"{what}:\n" + "\n".join(
                p.output()[-3000:] for p in [self.server, *self.agents.values()])
            time.sleep(0.1)
        return answer

    def stop(self) -> None:
        for process in [*self.agents.values(), self.server]:
            process.stop()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Callable[..., Lab]]:
    made: list[Lab] = []

    def make(**env: str) -> Lab:
        made.append(Lab(tmp_path, **env))
        return made[-1]

    yield make
    for each in made:
        each.stop()


def test_draining_an_agent_mid_run_loses_nothing(lab: Callable[..., Lab],
                                                 tmp_path: Path) -> None:
    fleet = lab()
    fleet.agent("host-a", test_seconds=2.0)
    ids = fleet.submit(["v1"], 6)
    running = fleet.until(lambda: [j for j in fleet.jobs(ids) if j["status"] == "running"],
                          "a job running on host-a")[0]

    drained = cli(fleet.url, "agents", "drain", "host-a")
    drained_at = time.time()

    assert drained.returncode == 0, drained.stderr
    assert "host-a is draining" in drained.stderr
    listed = cli(fleet.url, "agents")
    assert "online, draining" in listed.stdout
    fleet.agent("host-b")
    finished = fleet.until(lambda: (jobs := fleet.jobs(ids)) and all(
        j["status"] in ("completed", "failed", "cancelled") for j in jobs) and jobs,
        "every job finished")
    assert {j["status"] for j in finished} == {"completed"}
    by_id = {j["job_id"]: j for j in finished}
    assert by_id[running["job_id"]]["device"] == "host-a/emulator-1"
    assert by_id[running["job_id"]]["attempts"] == 1
    # Host-a starts nothing once its drain is acknowledged; on a loaded machine it may
    # finish its first job and start the next of its batch while the command is on its way.
    assert all(j["device"] == "host-b/emulator-1"
               or datetime.fromisoformat(j["started_at"]).timestamp() < drained_at
               for j in finished if j["job_id"] != running["job_id"])
    assert any(j["device"] == "host-b/emulator-1" for j in finished)

    refused = cli(fleet.url, "agents", "remove", "host-a")
    assert refused.returncode == 2 and "is online" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    fleet.agents["host-a"].stop()
    assert cli(fleet.url, "agents", "remove", "host-a").returncode == 0
    assert "host-a" not in cli(fleet.url, "agents").stdout

    # The history of this run, as a trace the simulator replays.
    trace_file = tmp_path / "trace.json"
    exported = cli(fleet.url, "export-trace", "--since", "1h", "--out", str(trace_file))
    assert exported.returncode == 0, exported.stderr
    trace = json.loads(trace_file.read_text())
    assert sorted(j["id"] for j in trace["jobs"]) == sorted(ids)
    simulated = cli(fleet.url, "simulate", str(trace_file), "--json")
    assert simulated.returncode == 0, simulated.stderr
    # ... and plans a fleet from it: the recommendation, simulated again, meets the goal.
    targets = {job["target"] for job in trace["jobs"]}
    ranges = ",".join(f"{target}:1..4" for target in sorted(targets))
    planned = cli(fleet.url, "plan", str(trace_file), "--devices", ranges, "--p95-wait", "1h",
                  "--json")
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["recommended"] is not None and plan["recommended_meets_goal"] is True
    assert cli(fleet.url, "export-trace", "--since", "soon").returncode == 2


def test_a_device_failing_installs_leaves_the_rotation(lab: Callable[..., Lab]) -> None:
    fleet = lab(QGJOB_DEVICE_FAILURE_LIMIT="2", QGJOB_MAX_ATTEMPTS="5",
                QGJOB_RETRY_STOP_ON_REPEAT="never")
    fleet.agent("well")
    first = fleet.submit(["v1"], 1)  # the build installs: failing it says the device is sick
    fleet.until(lambda: fleet.jobs(first)[0]["status"] == "completed", "v1 installed")
    fleet.agent("sick", "--install-fail-rate", "1")
    ids = fleet.submit(["v1"], 12)

    finished = fleet.until(lambda: (jobs := fleet.jobs(ids)) and all(
        j["status"] in ("completed", "failed", "cancelled") for j in jobs) and jobs,
        "every job finished", timeout=90)

    assert {j["status"] for j in finished} == {"completed"}
    assert {j["device"] for j in finished} == {"well/emulator-1"}
    listed = cli(fleet.url, "devices", "--json")
    devices = {d["device_id"]: d for d in map(json.loads, listed.stdout.splitlines())}
    sick = devices["sick/emulator-1"]
    assert sick["out_of_rotation"] and "2 failures in a row" in sick["out_of_rotation"]
    assert devices["well/emulator-1"]["out_of_rotation"] is None
    table = cli(fleet.url, "devices")
    assert "out of rotation" in table.stdout and "IDLE WHILE WORK WAITED" in table.stdout
    enabled = cli(fleet.url, "devices", "enable", "sick/emulator-1")
    assert enabled.returncode == 0, enabled.stderr
    again = {d["device_id"]: d for d in map(json.loads, cli(
        fleet.url, "devices", "--json").stdout.splitlines())}
    assert again["sick/emulator-1"]["out_of_rotation"] is None
