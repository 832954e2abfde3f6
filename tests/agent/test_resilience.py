"""The agent under the faults a review found: a failing heartbeat, a rival registration, an
app that will not install, a server that is gone."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import httpx
import pytest

from qgjob.agent.client import AgentClient, ServerUnavailable
from qgjob.agent.devices import parse_devices
from qgjob.agent.executors.base import InstallFailed
from qgjob.agent.runner import Agent
from tests.agent.test_runner import (
    CountingSimulation,
    all_finished,
    start_agent,
    stop,
    submit,
    until,
)
from tests.conftest import LiveServer

pytestmark = pytest.mark.anyio


async def test_a_failing_heartbeat_does_not_end_heartbeating(live_server: LiveServer) -> None:
    executor = CountingSimulation(install_seconds=0, test_seconds=3.0)  # > the 2 s lease
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        [job_id] = await submit(http)
        agent, task = await start_agent(live_server, executor)
        real = agent.client.heartbeat
        failures = {"left": 2}

        async def flaky(devices: Any) -> tuple[str, ...]:
            if failures["left"]:
                failures["left"] -= 1
                raise ValueError("a bug in the heartbeat path")
            return await real(devices)

        agent.client.heartbeat = flaky  # type: ignore[method-assign]
        jobs = await until(http, [job_id], all_finished, timeout=20)
        await stop(agent, task)
    assert jobs[job_id]["status"] == "completed"
    assert executor.runs == [job_id]  # the lease held: it ran exactly once


async def test_a_rival_under_a_live_agents_name_is_refused_and_the_agent_works_on(
        live_server: LiveServer) -> None:
    executor = CountingSimulation(install_seconds=0, test_seconds=0.3)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        agent, task = await start_agent(live_server, executor, "emulator:6")
        registrations = Counter[str]()
        real = agent.client.register

        async def counted(*args: Any, **kwargs: Any) -> Any:
            registrations["calls"] += 1
            return await real(*args, **kwargs)

        agent.client.register = counted  # type: ignore[method-assign]
        for _ in range(200):  # until the agent has registered (slow on a loaded machine)
            if any(a["name"] == "lab" for a in (await http.get("/agents")).json()["agents"]):
                break
            await asyncio.sleep(0.05)
        rival = await http.post("/agents", json={"name": "lab", "devices": [
            {"name": f"emulator-{i}", "target": "emulator"} for i in range(1, 7)]})
        assert rival.status_code == 409
        assert rival.json()["code"] == "agent_name_in_use"
        ids = await submit(http, n=6)
        jobs = await until(http, ids, all_finished, timeout=20)
        await stop(agent, task)
    assert registrations["calls"] == 1  # its own, never again
    assert {j["status"] for j in jobs.values()} == {"completed"}
    assert sorted(executor.runs) == sorted(ids)  # no job ran twice


class BrokenInstaller(CountingSimulation):
    async def install(self, app_version_id: str, target: str, device: str,
                      output: Any) -> None:
        output.write("adb: Performing Streamed Install\n")
        raise InstallFailed("adb: INSTALL_FAILED_INVALID_APK")


async def test_a_build_that_will_not_install_ends_failed(live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        ids = await submit(http, n=2, max_attempts=2)
        agent, task = await start_agent(live_server, BrokenInstaller(0, 0))
        jobs = await until(http, ids, all_finished, timeout=20)
        await stop(agent, task)
        logs = (await http.get(f"/jobs/{ids[0]}/logs")).text
    for job in jobs.values():
        assert job["status"] == "failed"
        assert "could not install" in job["error"] and "INVALID_APK" in job["error"]
    assert "Performing Streamed Install" in logs  # the install's output heads the job's log


async def test_an_agent_stops_even_when_the_server_is_gone() -> None:
    agent = Agent(AgentClient("http://127.0.0.1:9"), "lonely", parse_devices("emulator:1"),
                  CountingSimulation(0, 0))
    task = asyncio.create_task(agent.run())
    await asyncio.sleep(0.5)
    agent.stop()
    await asyncio.wait_for(task, 5)
    await agent.client.close()


async def test_an_outage_is_one_warning_not_one_per_device_and_retry(
        live_server: LiveServer, caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        agent, task = await start_agent(live_server, CountingSimulation(0, 0), "emulator:20")
        while not agent.client.agent_id:
            await asyncio.sleep(0.05)
        real, back_at = agent.client._post, loop.time() + 2.0

        async def post(*args: Any, **kwargs: Any) -> Any:  # every request, as in an outage
            if loop.time() < back_at:
                raise ServerUnavailable("connection refused (the test's outage)")
            return await real(*args, **kwargs)

        with caplog.at_level(logging.DEBUG, logger="qgjob.agent"):
            agent.client._post = post  # type: ignore[method-assign]
            ids = await submit(http, n=3)
            await until(http, ids, all_finished)
        await stop(agent, task)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert sum("server unavailable" in w for w in warnings) == 1
    assert sum("reachable again" in w for w in warnings) == 1
    assert len(retries) > 1  # the others retried too, at debug


async def test_preemption_makes_room_for_a_hotfix(tmp_path: Any) -> None:
    from tests.conftest import fast_settings, serve

    with serve(fast_settings(tmp_path, preemption=True)) as live:
        executor = CountingSimulation(install_seconds=0, test_seconds=1.5)
        async with httpx.AsyncClient(base_url=live.url) as http:
            [nightly] = await submit(http, "nightly", priority=1)
            agent, task = await start_agent(live, executor)
            await until(http, [nightly], lambda jobs: jobs[nightly]["status"] == "running")
            [hotfix] = await submit(http, "hotfix", priority=5)
            jobs = await until(http, [nightly, hotfix], all_finished, timeout=20)
            await stop(agent, task)
    assert jobs[hotfix]["status"] == jobs[nightly]["status"] == "completed"
    assert jobs[hotfix]["finished_at"] < jobs[nightly]["finished_at"]
    assert executor.runs == [nightly, hotfix, nightly]  # stopped, then run again
    assert jobs[nightly]["attempts"] == 2 and not jobs[nightly]["flaky"]
