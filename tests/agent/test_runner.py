"""The agent against a real server: pulling, installing once per app, retries, cancellation,
and stopping without losing work."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from qgjob.agent.client import AgentClient
from qgjob.agent.devices import parse_devices
from qgjob.agent.executors.base import JobTicket, Output, RunResult
from qgjob.agent.executors.simulate import SimulateExecutor
from qgjob.agent.runner import Agent
from tests.conftest import LiveServer

pytestmark = pytest.mark.anyio


@dataclass
class CountingSimulation(SimulateExecutor):
    """The simulate executor, counting what it was asked to do."""

    installs: Counter[tuple[str, str]] = field(default_factory=Counter)
    runs: list[str] = field(default_factory=list)

    async def install(self, app_version_id: str, target: str, device: str,
                      output: Output) -> None:
        self.installs[device, app_version_id] += 1
        await super().install(app_version_id, target, device, output)

    async def run(self, job: JobTicket, device: str, cancelled: asyncio.Event,
                  output: Output) -> RunResult:
        self.runs.append(job.job_id)
        return await super().run(job, device, cancelled, output)


async def submit(http: httpx.AsyncClient, app: str = "xyz123", n: int = 1,
                 **extra: Any) -> list[str]:
    body = {"jobs": [{"org_id": "qualgent", "app_version_id": app,
                      "test_path": f"tests/t{i}.spec.js", **extra} for i in range(n)]}
    response = await http.post("/jobs/batch", json=body)
    assert response.status_code == 201, response.text
    return [j["job_id"] for j in response.json()["jobs"]]


async def jobs_of(http: httpx.AsyncClient, ids: list[str]) -> dict[str, dict[str, Any]]:
    response = await http.get("/jobs", params={"job_id": ids, "limit": len(ids)})
    return {j["job_id"]: j for j in response.json()["jobs"]}


async def until(http: httpx.AsyncClient, ids: list[str],
                done: Callable[[dict[str, dict[str, Any]]], bool],
                timeout: float = 20.0) -> dict[str, dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        jobs = await jobs_of(http, ids)
        if done(jobs):
            return jobs
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not reached; jobs: {jobs}")
        await asyncio.sleep(0.05)


def all_finished(jobs: dict[str, dict[str, Any]]) -> bool:
    return all(j["status"] in ("completed", "failed", "cancelled") for j in jobs.values())


async def start_agent(live: LiveServer, executor: SimulateExecutor,
                      devices: str = "emulator:1") -> tuple[Agent, asyncio.Task[None]]:
    agent = Agent(AgentClient(live.url), "lab", parse_devices(devices), executor)
    return agent, asyncio.create_task(agent.run())


async def stop(agent: Agent, task: asyncio.Task[None], interrupt: bool = False) -> None:
    agent.stop(interrupt=interrupt)
    await asyncio.wait_for(task, 10)
    await agent.client.close()


async def test_one_install_per_app_on_a_device(live_server: LiveServer) -> None:
    executor = CountingSimulation(install_seconds=0.02, test_seconds=0.01)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        ids = await submit(http, "app-a", 4) + await submit(http, "app-b", 4)
        agent, task = await start_agent(live_server, executor)
        jobs = await until(http, ids, all_finished)
        await stop(agent, task)
    assert {j["status"] for j in jobs.values()} == {"completed"}
    assert executor.installs == {("emulator-1", "app-a"): 1, ("emulator-1", "app-b"): 1}
    assert sorted(executor.runs) == sorted(ids)


async def test_work_spreads_over_devices(live_server: LiveServer) -> None:
    executor = CountingSimulation(install_seconds=0.01, test_seconds=0.2)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        agent, task = await start_agent(live_server, executor, "emulator:3")
        await asyncio.sleep(0.3)  # let every device start waiting for work
        ids = await submit(http, "xyz123", 9)
        jobs = await until(http, ids, all_finished)
        await stop(agent, task)
    devices = Counter(j["device"] for j in jobs.values())
    assert len(devices) == 3, devices
    assert len(executor.runs) == 9


async def test_failing_test_is_retried_then_failed_with_its_error(
        live_server: LiveServer) -> None:
    executor = CountingSimulation(install_seconds=0, test_seconds=0, fail_rate=1.0)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        [job_id] = await submit(http, max_attempts=2)
        agent, task = await start_agent(live_server, executor)
        jobs = await until(http, [job_id], all_finished)
        await stop(agent, task)
    job = jobs[job_id]
    assert (job["status"], job["attempts"]) == ("failed", 2)
    assert "simulated failure" in job["error"]
    assert executor.runs == [job_id, job_id]


async def test_cancel_stops_a_running_test(live_server: LiveServer) -> None:
    executor = CountingSimulation(install_seconds=0, test_seconds=60)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        [job_id] = await submit(http)
        agent, task = await start_agent(live_server, executor)
        await until(http, [job_id], lambda jobs: jobs[job_id]["status"] == "running")
        await http.post(f"/jobs/{job_id}/cancel")
        jobs = await until(http, [job_id], all_finished, timeout=10)
        await stop(agent, task)
    assert jobs[job_id]["status"] == "cancelled"


async def test_stopping_finishes_the_running_job_and_hands_back_the_rest(
        live_server: LiveServer) -> None:
    executor = CountingSimulation(install_seconds=0, test_seconds=0.5)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        ids = await submit(http, n=4)
        agent, task = await start_agent(live_server, executor)
        await until(http, ids, lambda jobs: any(j["status"] == "running" for j in jobs.values()))
        await stop(agent, task)
        jobs = await jobs_of(http, ids)
    statuses = Counter(j["status"] for j in jobs.values())
    assert statuses == {"completed": 1, "queued": 3}
    assert all(j["device"] is None for j in jobs.values() if j["status"] == "queued")


async def test_interrupting_hands_back_running_jobs_without_spending_attempts(
        live_server: LiveServer) -> None:
    executor = CountingSimulation(install_seconds=0, test_seconds=60)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        [job_id] = await submit(http, max_attempts=1)
        agent, task = await start_agent(live_server, executor)
        await until(http, [job_id], lambda jobs: jobs[job_id]["status"] == "running")
        await stop(agent, task, interrupt=True)
        job = (await jobs_of(http, [job_id]))[job_id]
        # it can run again: a hand-back is not the test's failure
        second, task = await start_agent(live_server, CountingSimulation(0, 0))
        done = await until(http, [job_id], all_finished)
        await stop(second, task)
    assert job["status"] == "queued" and job["error"] is not None
    assert done[job_id]["status"] == "completed"


async def test_interrupting_stops_an_install_and_hands_the_batch_back(
        live_server: LiveServer) -> None:
    """Ctrl-C on `qgjob up` waited out an install in progress (a minute here) before it
    stopped; now the install stops too, nothing of the batch was started, and the device
    holds nothing."""
    executor = CountingSimulation(install_seconds=60, test_seconds=0)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        ids = await submit(http, n=2, max_attempts=1)
        agent, task = await start_agent(live_server, executor)
        while not executor.installs:
            await asyncio.sleep(0.02)
        await stop(agent, task, interrupt=True)  # within stop()'s 10 s, not the install's 60
        jobs = await jobs_of(http, ids)
    assert {(j["status"], j["attempts"]) for j in jobs.values()} == {("queued", 0)}
    assert executor.runs == []
    assert agent.devices[0].holds is None


async def test_cancelling_the_agent_cancels_an_install_in_progress(
        live_server: LiveServer) -> None:
    """The install runs as a task of its own: a worker cancelled from outside (not through
    `stop`) takes it down too, rather than leaving it to run out."""
    ended: list[str] = []

    class Watched(CountingSimulation):
        async def install(self, app_version_id: str, target: str, device: str,
                          output: Output) -> None:
            try:
                await super().install(app_version_id, target, device, output)
            except asyncio.CancelledError:
                ended.append("cancelled")
                raise

    executor = Watched(install_seconds=60, test_seconds=0)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        await submit(http)
        agent, task = await start_agent(live_server, executor)
        while not executor.installs:
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        await agent.client.close()
    assert ended == ["cancelled"]


async def test_output_reaches_the_server_while_the_test_runs(live_server: LiveServer) -> None:
    executor = CountingSimulation(install_seconds=0.1, test_seconds=2.5)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        [job_id] = await submit(http)
        agent, task = await start_agent(live_server, executor)
        await until(http, [job_id], lambda jobs: jobs[job_id]["status"] == "running")
        deadline = asyncio.get_running_loop().time() + 5
        while "running tests/t0.spec.js" not in (live := await http.get(
                f"/jobs/{job_id}/logs")).text:
            assert asyncio.get_running_loop().time() < deadline, live.text
            await asyncio.sleep(0.1)
        assert live.headers["X-Qgjob-Finished"] == "false"
        await until(http, [job_id], all_finished)
        await stop(agent, task)
        final = await http.get(f"/jobs/{job_id}/logs")
    assert final.headers["X-Qgjob-Finished"] == "true"
    assert final.text.startswith("[simulation] installing xyz123")
    assert final.text.rstrip().endswith("[simulation] passed")


class CountingClient(AgentClient):
    """The agent's client, counting the output requests it makes; `older_server` hides the
    server's offer to take output with reports, as a server from before it would."""

    def __init__(self, url: str, older_server: bool) -> None:
        super().__init__(url)
        self.older_server = older_server
        self.output_requests = 0

    async def register(self, *args: Any, **kwargs: Any) -> Any:
        registration = await super().register(*args, **kwargs)
        return replace(registration, report_takes_output=not self.older_server
                       and registration.report_takes_output)

    async def send_output(self, *args: Any) -> None:
        self.output_requests += 1
        await super().send_output(*args)


@pytest.mark.parametrize("older_server", [False, True])
async def test_a_short_tests_output_rides_with_its_report(live_server: LiveServer,
                                                          older_server: bool) -> None:
    client = CountingClient(live_server.url, older_server)
    agent = Agent(client, "lab", parse_devices("emulator:1"), CountingSimulation(0, 0))
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        ids = await submit(http, n=3)
        task = asyncio.create_task(agent.run())
        await until(http, ids, all_finished)
        await stop(agent, task)
        logs = [(await http.get(f"/jobs/{job_id}/logs")).text for job_id in ids]
    assert all(text.rstrip().endswith("[simulation] passed") for text in logs)
    assert sum(text.startswith("[simulation] installing xyz123") for text in logs) == 1
    assert client.output_requests == (3 if older_server else 0)


class LossyClient(AgentClient):
    """Every output request reaches the server, but the first answer is lost on the way."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.lost = 0

    async def send_output(self, *args: Any) -> None:
        await super().send_output(*args)
        if not self.lost:
            self.lost += 1
            raise httpx.ReadTimeout("the answer was lost")


async def test_output_whose_answer_was_lost_appears_once(live_server: LiveServer) -> None:
    client = LossyClient(live_server.url)
    agent = Agent(client, "lab", parse_devices("emulator:1"), CountingSimulation(0.1, 2.5))
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        [job_id] = await submit(http)
        task = asyncio.create_task(agent.run())
        await until(http, [job_id], all_finished)
        await stop(agent, task)
        logs = (await http.get(f"/jobs/{job_id}/logs")).text
    assert client.lost == 1
    assert logs.count("[simulation] installing") == 1
    assert logs.count("[simulation] running") == 1
