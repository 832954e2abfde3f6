"""Soak under faults: thousands of short jobs while agents are killed (SIGKILL) and restarted
at random. Reports lost jobs (must be 0), jobs stuck, duplicate executions (counted in the
agents' execution logs) and the time to recover (from a kill to the restart of each job the
dead agent held).

    python -m benchmarks.soak [--jobs 5000] [--agents 4] [--devices 5] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import signal
import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import at_least, command_line, percentile, print_table, write_result
from tests.e2e.processes import Process, free_port, wait_healthy

FAST = {"QGJOB_LEASE_SECONDS": "2", "QGJOB_HEARTBEAT_SECONDS": "0.5",
        "QGJOB_MAINTENANCE_SECONDS": "0.2", "QGJOB_AGENT_OFFLINE_SECONDS": "3",
        "QGJOB_RETRY_BASE_SECONDS": "0.2",
        "QGJOB_MAX_INFRA_FAILURES": "20", "QGJOB_RATE_LIMIT_PER_SECOND": "0",
        "QGJOB_JOB_RATE_LIMIT_PER_SECOND": "0"}
FINAL = {"completed", "failed", "cancelled"}


def main() -> None:
    parser = argparse.ArgumentParser(description="soak under agent crashes")
    parser.add_argument("--jobs", type=at_least(1), default=5000)
    parser.add_argument("--agents", type=at_least(1), default=4)
    parser.add_argument("--devices", type=at_least(1), default=5, help="emulators per agent")
    parser.add_argument("--test-seconds", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=900.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qgjob-soak-") as work:
        result = soak(args, Path(work))
    print_table(["measure", "value"], [[k, v] for k, v in result.items()
                                       if not isinstance(v, list | dict)])
    path = write_result("soak", {"command": command_line("benchmarks.soak"),
                                 **result})
    print(f"\nwrote {path}")


def soak(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db, ledger = work / "soak.db", work / "executions.log"
    server = Process("server", "--port", str(port), "--db", f"sqlite:///{db}",
                     "--log-level", "warning", log=work / "server.log", env=FAST)
    wait_healthy(url, server)

    def start(index: int) -> Process:
        return Process("--server", url, "agent", "--name", f"soak-{index}", "--devices",
                       f"emulator:{args.devices}", "--install-seconds", "0", "--test-seconds",
                       str(args.test_seconds), "--execution-log", str(ledger),
                       "--log-level", "warning", log=work / f"agent-{index}.log")

    agents = {i: start(i) for i in range(args.agents)}
    kills: list[float] = []
    began = time.monotonic()
    try:
        ids = submit(url, args.jobs)
        ids_done = wait_with_chaos(url, ids, agents, start, kills, rng, args.deadline)
    finally:
        for agent in agents.values():
            agent.stop(signal.SIGTERM, timeout=10)
        server.stop()
    elapsed = time.monotonic() - began
    return summarize(db, ledger, ids, ids_done, kills, elapsed, args)


def submit(url: str, count: int) -> list[str]:
    ids: list[str] = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for start in range(0, count, 200):
            body = {"jobs": [{"org_id": f"org{i % 5}", "app_version_id": f"build{i % 50}",
                              "test_path": f"tests/t{i}.spec.js"}
                             for i in range(start, min(start + 200, count))]}
            response = http.post("/jobs/batch", json=body)
            response.raise_for_status()
            ids += [job["job_id"] for job in response.json()["jobs"]]
    return ids


def wait_with_chaos(url: str, ids: list[str], agents: dict[int, Process], start: Any,
                    kills: list[float], rng: random.Random, deadline: float) -> dict[str, str]:
    """Kill and restart agents at random until every job is final (or the deadline)."""
    next_kill = time.time() + rng.uniform(2, 4)
    finished: dict[str, str] = {}
    stop_at = time.monotonic() + deadline
    with httpx.Client(base_url=url, timeout=30) as http:
        while time.monotonic() < stop_at:
            finished = statuses(http, ids)
            if all(status in FINAL for status in finished.values()):
                break
            if time.time() >= next_kill:
                victim = rng.randrange(len(agents))
                agents[victim].stop(signal.SIGKILL, timeout=5)
                kills.append(time.time())
                time.sleep(rng.uniform(0.2, 1.5))
                agents[victim] = start(victim)
                next_kill = time.time() + rng.uniform(2, 4)
            time.sleep(0.5)
    return finished


def statuses(http: httpx.Client, ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(ids), 200):
        chunk = ids[start:start + 200]
        response = http.get("/jobs", params={"job_id": chunk, "limit": len(chunk)})
        found.update((j["job_id"], j["status"]) for j in response.json()["jobs"])
    return found


def summarize(db: Path, ledger: Path, ids: list[str], finished: dict[str, str],
              kills: list[float], elapsed: float, args: argparse.Namespace) -> dict[str, Any]:
    executions = Counter(line.split("\t")[0] for line in ledger.read_text().splitlines()) \
        if ledger.exists() else Counter()
    with sqlite3.connect(db) as conn:
        lost_attempts = conn.execute(
            "SELECT job_id, attempt, started_at FROM attempts WHERE outcome = 'lost'").fetchall()
        restarts = {(job, attempt): start for job, attempt, start in conn.execute(
            "SELECT job_id, attempt, started_at FROM attempts")}
    recoveries = []
    for job_id, attempt, started in lost_attempts:
        restarted = restarts.get((job_id, attempt + 1))
        killed = max((k for k in kills if started <= k <= (restarted or k)), default=None)
        if restarted is not None and killed is not None:
            recoveries.append(restarted - killed)
    outcome = Counter(finished.get(job_id, "missing") for job_id in ids)
    return {
        "jobs": len(ids),
        "agents": args.agents,
        "devices": args.agents * args.devices,
        "agent kills": len(kills),
        "seconds": round(elapsed, 1),
        "completed": outcome["completed"],
        "failed": outcome["failed"],
        "lost (missing)": outcome["missing"],
        "stuck (not final at the end)": sum(n for s, n in outcome.items()
                                            if s not in FINAL and s != "missing"),
        "attempts lost with a killed agent": len(lost_attempts),
        "jobs executed more than once": sum(1 for n in executions.values() if n > 1),
        "jobs never executed to the end": sum(1 for job_id in ids if not executions[job_id]),
        "recovery p50 (s)": round(percentile(recoveries, 50), 2) if recoveries else None,
        "recovery p95 (s)": round(percentile(recoveries, 95), 2) if recoveries else None,
        "recovery max (s)": round(max(recoveries), 2) if recoveries else None,
        "recoveries": [round(r, 3) for r in recoveries],
    }


if __name__ == "__main__":
    main()
