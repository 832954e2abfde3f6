"""Heartbeats at scale (issue 21): 10,000 simulated devices on 1,000 agents against two
`qgjob server` replicas sharing one PostgreSQL database.

Each simulated agent speaks the agent protocol over HTTP, to one replica (agent i to replica
i % 2, as a load balancer would spread them): it registers its devices (6 emulators, 3 real
devices, 1 BrowserStack slot per 10), then heartbeats every `heartbeat_seconds` the server
announced, on a fixed schedule, with every device's state, held build, job and lease. Meanwhile
idle emulators claim from a queue filled beforehand, at `--claims-per-second`; each job is
started, held for `--test-seconds` (longer than the lease, so only heartbeats keep it) and
reported passed. With `--long-polls N`, N devices of the targets without queued work (the
real devices and BrowserStack slots; 4,000 of 10,000) each hold a claim open for the
`claim_wait_seconds` the server announced and send the next when it is answered empty, as an
idle real agent's devices do; each has a connection of its own.

It reports heartbeats/s offered and held, heartbeat latency, claim latency while
heartbeating, leases lost (a start or report refused `409 lease_lost`), agents the servers
marked offline or forgot (`known: false`), CPU per replica and of PostgreSQL (from /proc),
and the PostgreSQL connections each replica holds. The load generator is one asyncio process
with one httpx pool per replica; it says whether it kept its own schedule (send lag) and
how much CPU it used, so a run where it was the bottleneck says so.

    python -m benchmarks.heartbeat_scale [--agents 1000] [--devices-per-agent 10]
        [--seconds 60] [--claims-per-second 10] [--test-seconds 40] [--long-polls 0]
        [--postgres URL]

Runs in a PostgreSQL schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks import procfs
from benchmarks.common import at_least, command_line, write_result
from benchmarks.heartbeat_report import print_report, summary
from benchmarks.stores import DEFAULT_PG, database, server
from tests.e2e.processes import Process

TARGETS = ["emulator"] * 6 + ["device"] * 3 + ["browserstack"]
BUILDS = 40
POSTGRES_PORT = 5432


@dataclass
class SimDevice:
    name: str
    target: str
    holds: str | None = None
    job_id: str | None = None
    lease_id: str | None = None

    def status(self) -> dict[str, Any]:
        return {"name": self.name, "state": "running" if self.job_id else "idle",
                "holds_app_version_id": self.holds, "current_job_id": self.job_id,
                "lease_id": self.lease_id}


@dataclass
class SimAgent:
    name: str
    replica: int
    devices: list[SimDevice]
    agent_id: str = ""


@dataclass
class Tally:
    """What the simulated fleet saw; samples only while `measuring`."""

    measuring: bool = False
    heartbeats: int = 0
    heartbeat_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    """How late the load generator's event loop woke from a short sleep: its own delay."""
    failures: Counter[str] = field(default_factory=Counter)
    unknown: int = 0
    late: int = 0
    claim_ms: list[float] = field(default_factory=list)
    claims_empty: int = 0
    start_ms: list[float] = field(default_factory=list)
    lease_lost: int = 0
    passed: int = 0
    no_idle_device: int = 0
    polls_empty: int = 0
    """Long-poll claims answered without work (after their wait, or early)."""
    polls_early: int = 0
    """Of those, answered before half their wait: the server did not hold them."""
    polls_with_work: int = 0


def fleet_of(agents: int, devices_per_agent: int) -> list[SimAgent]:
    return [SimAgent(f"hb-{a:04d}", a % 2, [
        SimDevice(f"{TARGETS[d % len(TARGETS)]}-{d}", TARGETS[d % len(TARGETS)])
        for d in range(devices_per_agent)]) for a in range(agents)]


# the agent protocol -------------------------------------------------------------------------

async def register(http: httpx.AsyncClient, agent: SimAgent) -> dict[str, Any]:
    answer = await http.post("/agents", json={
        "name": agent.name, "version": "bench", "executor": "simulate",
        "devices": [{"name": d.name, "target": d.target} for d in agent.devices]})
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    agent.agent_id = body["agent"]["agent_id"]
    return body


async def heartbeats(http: httpx.AsyncClient, agent: SimAgent, interval: float,
                     first: float, tally: Tally) -> None:
    """On a fixed schedule from `first` (loop time), as the real agent's heartbeat task."""
    loop = asyncio.get_running_loop()
    due = first
    while True:
        await asyncio.sleep(max(0.0, due - loop.time()))
        sent, recording = loop.time(), tally.measuring
        try:
            answer = await http.post(f"/agents/{agent.agent_id}/heartbeat",
                                     json={"devices": [d.status() for d in agent.devices]})
        except httpx.HTTPError as error:
            if recording:
                tally.failures[type(error).__name__] += 1
        else:
            if recording:
                record_heartbeat(tally, answer, sent, due, loop.time(), interval)
        due += interval


async def loop_lag(tally: Tally, every: float = 0.05) -> None:
    """A generator whose loop wakes late cannot keep the fleet's schedule: it is the
    bottleneck, not the servers."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(every)
        if tally.measuring:
            tally.lag_ms.append((loop.time() - asked - every) * 1000)


def record_heartbeat(tally: Tally, answer: httpx.Response, sent: float, due: float,
                     answered: float, interval: float) -> None:
    if answer.status_code != 200:
        tally.failures[str(answer.status_code)] += 1
        return
    tally.heartbeats += 1
    tally.heartbeat_ms.append((answered - sent) * 1000)
    tally.late += answered - due > interval
    tally.unknown += not answer.json()["known"]


async def run_batch(http: httpx.AsyncClient, agent: SimAgent, device: SimDevice,
                    test_seconds: float, tally: Tally) -> None:
    """Claim (the queue has work: answered at once), then start, hold and report each job."""
    base = f"/agents/{agent.agent_id}"
    began = time.perf_counter()
    answer = await http.post(f"{base}/claim", json={
        "device": device.name, "target": device.target,
        "holds_app_version_id": device.holds, "wait_seconds": 0})
    if tally.measuring:
        tally.claim_ms.append((time.perf_counter() - began) * 1000)
    if answer.status_code != 200:
        tally.claims_empty += 1
        return
    batch = answer.json()
    device.lease_id, device.holds = batch["lease_id"], batch["app_version_id"]
    lease = {"lease_id": batch["lease_id"]}
    try:
        for job in batch["jobs"]:
            device.job_id = job["job_id"]
            began = time.perf_counter()
            started = await http.post(f"{base}/jobs/{job['job_id']}/start", json=lease)
            if tally.measuring:
                tally.start_ms.append((time.perf_counter() - began) * 1000)
            if started.status_code != 200:
                tally.lease_lost += started.status_code == 409
                continue
            await asyncio.sleep(test_seconds)
            reported = await http.post(f"{base}/jobs/{job['job_id']}/report", json={
                **lease, "attempt": started.json()["attempts"], "outcome": "passed"})
            tally.lease_lost += reported.status_code == 409
            tally.passed += reported.status_code == 200
    finally:
        device.job_id = device.lease_id = None


async def dispatch(clients: list[httpx.AsyncClient], idle: deque[tuple[SimAgent, SimDevice]],
                   rate: float, test_seconds: float, tally: Tally) -> None:
    """An idle emulator claims `rate` times a second; back in line when its batch is done."""
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[None]] = set()
    due = loop.time()
    try:
        while True:
            due += 1 / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not idle:
                tally.no_idle_device += 1
                continue
            task = asyncio.create_task(
                claim_and_run(clients, idle, *idle.popleft(), test_seconds, tally))
            running.add(task)
            task.add_done_callback(running.discard)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def claim_and_run(clients: list[httpx.AsyncClient],
                        idle: deque[tuple[SimAgent, SimDevice]], agent: SimAgent,
                        device: SimDevice, test_seconds: float, tally: Tally) -> None:
    try:
        await run_batch(clients[agent.replica], agent, device, test_seconds, tally)
    except httpx.HTTPError as error:
        tally.failures[f"claim {type(error).__name__}"] += 1
    finally:
        idle.append((agent, device))


async def long_polls(http: httpx.AsyncClient, agent: SimAgent, device: SimDevice,
                     wait: float, first: float, tally: Tally) -> None:
    """A device waiting for work of a target that has none: one claim held open after
    another."""
    await asyncio.sleep(first)
    while True:
        began = time.perf_counter()
        try:
            answer = await http.post(f"/agents/{agent.agent_id}/claim", json={
                "device": device.name, "target": device.target,
                "holds_app_version_id": device.holds, "wait_seconds": wait})
        except httpx.HTTPError as error:
            if tally.measuring:
                tally.failures[f"long-poll {type(error).__name__}"] += 1
            await asyncio.sleep(1.0)
            continue
        if not tally.measuring:
            continue
        if answer.status_code == 200:
            tally.polls_with_work += 1  # never queued for these targets
        elif answer.status_code == 204:
            tally.polls_empty += 1
            tally.polls_early += time.perf_counter() - began < wait / 2
        else:
            tally.failures[f"long-poll {answer.status_code}"] += 1
            await asyncio.sleep(1.0)


def waiting_devices(fleet: list[SimAgent], count: int) -> list[tuple[SimAgent, SimDevice]]:
    """`count` devices of the targets no job is queued for, spread over the agents."""
    most = max((len(agent.devices) for agent in fleet), default=0)
    spare = [(agent, device) for index in range(most) for agent in fleet
             for device in agent.devices[index:index + 1] if device.target != "emulator"]
    return spare[:count]


async def fill_queue(http: httpx.AsyncClient, jobs: int) -> None:
    for first in range(0, jobs, 500):
        answer = await http.post("/jobs/batch", headers={"Prefer": "return=minimal"}, json={
            "jobs": [{"org_id": f"org{n % 10}", "app_version_id": f"build{n % BUILDS}",
                      "test_path": f"tests/t{n}.spec.js", "target": "emulator"}
                     for n in range(first, min(jobs, first + 500))]})
        answer.raise_for_status()


# measuring the processes --------------------------------------------------------------------

@dataclass
class Watch:
    """CPU of each replica, PostgreSQL and the load generator, and each replica's
    PostgreSQL connections, sampled once a second over the measured window."""

    replicas: list[Process]
    connections: list[list[int]] = field(default_factory=list)
    began: dict[str, Any] = field(default_factory=dict)

    def reading(self) -> dict[str, Any]:
        return {"wall": time.monotonic(), "machine": procfs.machine_busy(),
                "replicas": [procfs.cpu_seconds(p.popen.pid) for p in self.replicas],
                "postgres": procfs.cpu_of(procfs.pids_named("postgres")),
                "generator": time.process_time()}

    async def sample(self) -> None:
        self.began = await asyncio.to_thread(self.reading)
        while True:
            self.connections.append(await asyncio.to_thread(lambda: [
                procfs.connections_to(p.popen.pid, POSTGRES_PORT) for p in self.replicas]))
            await asyncio.sleep(1.0)

    def result(self) -> dict[str, Any]:
        end = self.reading()
        wall = end["wall"] - self.began["wall"]
        per_replica = [{
            "cpu_share_of_a_core": (after - before) / wall,
            "postgres_connections_max": max(c[i] for c in self.connections),
            "postgres_connections_mean": sum(c[i] for c in self.connections)
                                         / len(self.connections)}
            for i, (before, after) in enumerate(zip(self.began["replicas"], end["replicas"],
                                                    strict=True))]
        return {"seconds": wall, "cores": os.cpu_count() or 1, "replicas": per_replica,
                "postgres_cpu_share_of_a_core": procfs.cpu_spent(self.began["postgres"],
                                                                 end["postgres"]) / wall,
                "generator_cpu_share_of_a_core": (end["generator"] - self.began["generator"])
                                                 / wall,
                "machine_busy_share": procfs.busy_between(self.began["machine"],
                                                          end["machine"])}


# the run ------------------------------------------------------------------------------------

@contextmanager
def replicas(db_url: str, work: Path, count: int, env: dict[str, str]
             ) -> Iterator[list[tuple[str, Process]]]:
    with ExitStack() as stack:
        yield [stack.enter_context(server(db_url, work, env)) for _ in range(count)]


def analyze(db_url: str) -> None:
    """Give PostgreSQL statistics of the registered fleet, as autovacuum would have on a
    server that has run for a while: in a schema minutes old it has none, and it plans the
    device queries as if there were a handful of agents (a nested loop per agent)."""
    import psycopg

    server, _, schema = db_url.rpartition("schema=")
    with psycopg.connect(server.rstrip("?&"), autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("ANALYZE")


async def measure(urls: list[str], processes: list[Process], args: argparse.Namespace,
                  db_url: str) -> dict[str, Any]:
    fleet = fleet_of(args.agents, args.devices_per_agent)
    limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=
                          args.connections)
    clients = [httpx.AsyncClient(base_url=url, timeout=60, limits=limits) for url in urls]
    tally, watch, tasks = Tally(), Watch(processes), []
    try:
        loop = asyncio.get_running_loop()
        await fill_queue(clients[0], int(args.claims_per_second * args.seconds * 4 * 1.5))
        gate = asyncio.Semaphore(args.connections)

        async def join(agent: SimAgent) -> dict[str, Any]:
            async with gate:
                return await register(clients[agent.replica], agent)

        answers = await asyncio.gather(*(join(agent) for agent in fleet))
        await asyncio.to_thread(analyze, db_url)
        interval = float(answers[0]["heartbeat_seconds"])
        start = loop.time()
        tasks = [asyncio.create_task(heartbeats(clients[a.replica], a, interval,
                                                start + random.uniform(0, interval), tally))
                 for a in fleet]
        idle = deque((a, d) for a in fleet for d in a.devices if d.target == "emulator")
        random.shuffle(idle)
        if args.claims_per_second > 0:
            tasks.append(asyncio.create_task(
                dispatch(clients, idle, args.claims_per_second, args.test_seconds, tally)))
        waiting = waiting_devices(fleet, args.long_polls)
        wait = float(answers[0]["claim_wait_seconds"])
        pollers = [httpx.AsyncClient(base_url=url, timeout=wait + 30, limits=httpx.Limits(
            max_connections=len(waiting) + 1, max_keepalive_connections=len(waiting) + 1))
            for url in urls]
        clients += pollers
        tasks += [asyncio.create_task(long_polls(pollers[a.replica], a, d, wait,
                                                 random.uniform(0, interval), tally))
                  for a, d in waiting]
        await asyncio.sleep(interval)  # every agent has sent its first heartbeat
        tally.measuring = True
        tasks += [asyncio.create_task(watch.sample()), asyncio.create_task(loop_lag(tally))]
        await asyncio.sleep(args.seconds)
        tally.measuring = False
        processes_seen = watch.result()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        states = Counter(a["state"] for a in (await clients[0].get("/agents")).json()["agents"])
        return summary(args, interval, answers[0]["lease_seconds"], tally, processes_seen,
                       states, offline_logged(processes))
    finally:
        for client in clients:
            await client.aclose()


def offline_logged(processes: list[Process]) -> int:
    return sum(p.output().count("is offline (no heartbeat)") for p in processes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=at_least(1), default=1000)
    parser.add_argument("--devices-per-agent", type=at_least(1), default=10)
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    parser.add_argument("--claims-per-second", type=float, default=10.0)
    parser.add_argument("--test-seconds", type=float, default=40.0)
    parser.add_argument("--long-polls", type=at_least(0), default=0,
                        help="devices without work that hold a claim open (at most those of "
                             "the targets with no queued jobs: 4 of every 10)")
    parser.add_argument("--replicas", type=at_least(1), default=2)
    parser.add_argument("--connections", type=at_least(1), default=100,
                        help="the load generator's connections to each replica")
    parser.add_argument("--heartbeat-seconds", type=float, default=None,
                        help="the servers' setting (default: theirs, 5 s)")
    parser.add_argument("--lease-seconds", type=float, default=None)
    parser.add_argument("--postgres", default=DEFAULT_PG, help="a PostgreSQL server URL")
    parser.add_argument("--no-save", action="store_true",
                        help="write the JSON under the temporary directory instead")
    args = parser.parse_args()
    env = {"QGJOB_MAX_CONNECTIONS": "20000"}
    if args.heartbeat_seconds:
        env["QGJOB_HEARTBEAT_SECONDS"] = str(args.heartbeat_seconds)
    if args.lease_seconds:
        env["QGJOB_LEASE_SECONDS"] = env["QGJOB_AGENT_OFFLINE_SECONDS"] = str(args.lease_seconds)
    with tempfile.TemporaryDirectory(prefix="qgjob-heartbeats-") as work, \
            database("postgresql", Path(work), args.postgres) as db_url, \
            replicas(db_url, Path(work), args.replicas, env) as started:
        result = asyncio.run(measure([u for u, _ in started], [p for _, p in started], args,
                                     db_url))
    print_report(result)
    path = write_result("heartbeat_scale", {
        "command": command_line("benchmarks.heartbeat_scale"),
        "results": result}, save=not args.no_save)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

