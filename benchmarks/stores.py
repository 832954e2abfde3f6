"""SQLite and PostgreSQL side by side.

1. Submit throughput through a real `qgjob server` process: single `POST /jobs` from 8
   concurrent clients, and `POST /jobs/batch` of 100 from 4.
2. Claims per second with 1, 4 and 16 concurrent agents (one device each) through the server:
   each agent claims, starts and reports its jobs (zero-length tests) as fast as it can.
3. Claim latency with 1,000 and with 100,000 jobs queued, in the same 200 lanes: the store's
   whole claim transaction (read the lanes, run the policy, assign the batch); every batch is
   handed back so the queue stays at its size. The p99 at 100k must stay within 2x the p99 at
   1k (the claim path reads indexes and per-lane summaries, never the queue).

    python -m benchmarks.stores [--postgres URL] [--seconds 8] [--claims 1000]

The PostgreSQL URL defaults to QGJOB_TEST_POSTGRES_URL or the local server; each part runs
in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import at_least, command_line, percentile, print_table, write_result
from qgjob.domain.models import DeviceSpec, NewJob, group_key_for
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.scheduler.views import FleetRules
from qgjob.store import open_store
from tests.e2e.processes import Process, free_port, wait_healthy

NOW = 1_800_000_000.0
LANES = 200
UNLIMITED = {"QGJOB_RATE_LIMIT_PER_SECOND": "0", "QGJOB_AGENT_RATE_LIMIT_PER_SECOND": "0",
             "QGJOB_JOB_RATE_LIMIT_PER_SECOND": "0", "QGJOB_MAX_QUEUED_JOBS_PER_ORG": "0"}
DEFAULT_PG = os.environ.get("QGJOB_TEST_POSTGRES_URL",
                            "postgresql://postgres@127.0.0.1:5432/test")


# databases ----------------------------------------------------------------------------------

@contextmanager
def database(kind: str, work: Path, pg_url: str) -> Iterator[str]:
    """A fresh database URL of `kind`: a new SQLite file, or a new PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{work / f'{uuid.uuid4().hex[:8]}.db'}"
        return
    import psycopg

    schema = f"qgjob_bench_{uuid.uuid4().hex[:10]}"
    try:
        yield f"{pg_url}{'&' if '?' in pg_url else '?'}schema={schema}"
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def new_jobs(count: int, seed: int, prefix: str) -> list[NewJob]:
    """`count` jobs in LANES lanes (build i % LANES, whose org is fixed by the build)."""
    rng = random.Random(seed)
    return [NewJob(f"{prefix}{i:07d}", f"org{i % 20}", f"build{i % LANES}",
                   f"tests/t{i % 60}.spec.js", "emulator", rng.randint(1, 5), 3,
                   group_key_for(f"org{i % 20}", f"build{i % LANES}", "emulator"),
                   NOW - rng.uniform(0, 3600)) for i in range(count)]


# 3. claim latency against queue size -------------------------------------------------------

def claim_latency(url: str, jobs: list[NewJob], claims: int) -> dict[str, float]:
    """The store's whole claim, timed `claims` times by 20 devices in turn with `jobs` queued;
    each batch is handed back so the queue keeps its size."""
    store = open_store(url)
    try:
        for start in range(0, len(jobs), 5000):
            store.insert_jobs(jobs[start:start + 5000])
        specs = [DeviceSpec(f"emulator-{i}", "emulator") for i in range(1, 21)]
        store.register_agent("bench-agent", "bench", "0", "simulate", specs, NOW)
        policy, rules = FairAffinityPolicy(), FleetRules()
        samples = []
        for index in range(claims):
            device = f"emulator-{index % 20 + 1}"
            now = NOW + index * 0.01
            started = time.perf_counter()
            result = store.claim_batch("bench-agent", device, None, now, 30.0, policy, rules)
            samples.append((time.perf_counter() - started) * 1000)
            if result.batch is not None:
                store.release_jobs(result.batch.lease.lease_id,
                                   [j.job_id for j in result.batch.jobs], now)
        return {"queued": len(jobs), "claims": len(samples),
                "p50_ms": percentile(samples, 50), "median_ms": statistics.median(samples),
                "p99_ms": percentile(samples, 99), "mean_ms": statistics.fmean(samples)}
    finally:
        store.close()


# a server process ---------------------------------------------------------------------------

@contextmanager
def server(url_of_db: str, work: Path, env: dict[str, str] | None = None
           ) -> Iterator[tuple[str, Process]]:
    """A `qgjob server` on `url_of_db` without rate limits (and with `env`'s settings): its
    URL and its process."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = Process("server", "--port", str(port), "--db", url_of_db, "--log-level",
                      "warning", log=work / f"server-{port}.log", env={**UNLIMITED, **(env or {})})
    try:
        wait_healthy(url, process, timeout=60)
        yield url, process
    finally:
        process.stop(signal.SIGTERM)


# 1. submit throughput ----------------------------------------------------------------------

async def submit_single(url: str, total: int, clients: int) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        counter = iter(range(total))

        async def client() -> None:
            for n in counter:
                body = {"org_id": f"org{n % 20}", "app_version_id": f"build{n % LANES}",
                        "test_path": f"tests/s{n}.spec.js"}
                response = await http.post("/jobs", json=body)
                assert response.status_code == 201, response.text

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return total / (time.perf_counter() - started)


async def submit_batches(url: str, total: int, clients: int, size: int = 100) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        counter = iter(range(0, total, size))

        async def client() -> None:
            for first in counter:
                body = {"jobs": [{"org_id": f"org{n % 20}", "app_version_id": f"build{n % LANES}",
                                  "test_path": f"tests/b{n}.spec.js"}
                                 for n in range(first, first + size)]}
                response = await http.post("/jobs/batch", json=body)
                assert response.status_code == 201, response.text

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return total / (time.perf_counter() - started)


# 2. claims per second -----------------------------------------------------------------------

async def agents_cycle(url: str, agents: int, seconds: float) -> dict[str, float]:
    """`agents` agents of one device each, claiming, starting and reporting for `seconds`."""
    limits = httpx.Limits(max_connections=agents * 2 + 4)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        ids = []
        for n in range(agents):
            answer = await http.post("/agents", json={
                "name": f"bench{n}", "version": "0", "executor": "simulate",
                "devices": [{"name": "emulator-1", "target": "emulator"}]})
            ids.append(answer.json()["agent"]["agent_id"])
        claims = jobs = 0
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def agent(agent_id: str) -> None:
            nonlocal claims, jobs
            holds = None
            base = f"/agents/{agent_id}"
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                answer = await http.post(f"{base}/claim", json={
                    "device": "emulator-1", "target": "emulator",
                    "holds_app_version_id": holds, "wait_seconds": 0})
                latencies.append((time.perf_counter() - began) * 1000)
                if answer.status_code == 204:
                    continue
                batch = answer.json()
                claims += 1
                holds = batch["app_version_id"]
                for job in batch["jobs"]:
                    lease = {"lease_id": batch["lease_id"]}
                    started = await http.post(f"{base}/jobs/{job['job_id']}/start", json=lease)
                    if started.status_code != 200:
                        continue
                    await http.post(f"{base}/jobs/{job['job_id']}/report", json={
                        **lease, "attempt": started.json()["attempts"], "outcome": "passed"})
                    jobs += 1

        started = time.perf_counter()
        await asyncio.gather(*(agent(agent_id) for agent_id in ids))
        elapsed = time.perf_counter() - started
    return {"claims_per_s": claims / elapsed, "jobs_per_s": jobs / elapsed,
            "claim_p50_ms": percentile(latencies, 50), "claim_p99_ms": percentile(latencies, 99)}


def queue_through_store(url: str, count: int) -> None:
    store = open_store(url)
    try:
        jobs = new_jobs(count, 5, "c")
        for start in range(0, len(jobs), 5000):
            store.insert_jobs(jobs[start:start + 5000])
    finally:
        store.close()


# the run ------------------------------------------------------------------------------------

def run(kind: str, work: Path, pg_url: str, seconds: float, claims: int,
        say: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with database(kind, work, pg_url) as url, server(url, work) as (api, _):
        say(f"{kind}: submit throughput")
        out["submit_single_jobs_per_s"] = asyncio.run(submit_single(api, 2000, 8))
        out["submit_batch_jobs_per_s"] = asyncio.run(submit_batches(api, 20_000, 4))
    for agents in (1, 4, 16):
        with database(kind, work, pg_url) as url:
            queue_through_store(url, 40_000)
            with server(url, work) as (api, _):
                say(f"{kind}: {agents} agent(s) claiming")
                out[f"agents_{agents}"] = asyncio.run(agents_cycle(api, agents, seconds))
    for queued in (1_000, 100_000):
        with database(kind, work, pg_url) as url:
            say(f"{kind}: claim latency with {queued:,} queued")
            out[f"claim_{queued}"] = claim_latency(url, new_jobs(queued, 11, "q"), claims)
    out["p99_ratio_100k_to_1k"] = out["claim_100000"]["p99_ms"] / out["claim_1000"]["p99_ms"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="SQLite and PostgreSQL side by side")
    parser.add_argument("--postgres", default=DEFAULT_PG, help="a PostgreSQL server URL")
    parser.add_argument("--seconds", type=float, default=8.0, help="per claims-per-second run")
    parser.add_argument("--claims", type=at_least(1), default=1000, help="per claim-latency run")
    args = parser.parse_args()

    def say(line: str) -> None:
        print(f"  … {line}", file=sys.stderr, flush=True)

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="qgjob-stores-") as work:
        for kind in ("sqlite", "postgresql"):
            results[kind] = run(kind, Path(work), args.postgres, args.seconds, args.claims, say)

    kinds = list(results)
    rows: list[list[Any]] = [
        ["submit, single POST /jobs (8 clients), jobs/s",
         *[f"{results[k]['submit_single_jobs_per_s']:,.0f}" for k in kinds]],
        ["submit, POST /jobs/batch of 100 (4 clients), jobs/s",
         *[f"{results[k]['submit_batch_jobs_per_s']:,.0f}" for k in kinds]]]
    for agents in (1, 4, 16):
        rows.append([f"claims/s, {agents} agent(s) (jobs/s)",
                     *[f"{results[k][f'agents_{agents}']['claims_per_s']:,.0f} "
                       f"({results[k][f'agents_{agents}']['jobs_per_s']:,.0f})" for k in kinds]])
    for queued in (1_000, 100_000):
        rows.append([f"claim p50 / p99 ms, {queued:,} queued",
                     *[f"{results[k][f'claim_{queued}']['p50_ms']:.2f} / "
                       f"{results[k][f'claim_{queued}']['p99_ms']:.2f}" for k in kinds]])
    rows.append(["p99 at 100k / p99 at 1k (goal <= 2)",
                 *[f"{results[k]['p99_ratio_100k_to_1k']:.2f}" for k in kinds]])
    print("SQLite and PostgreSQL, one server process each (2 cores)")
    print_table(["measure", *kinds], rows)
    path = write_result("stores", {
        "command": command_line("benchmarks.stores"),
        "results": results})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
