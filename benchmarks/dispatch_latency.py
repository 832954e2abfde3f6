"""Submit-to-running latency on an idle device.

Starts a real `qgjob server` (SQLite) and a real `qgjob agent` with one simulated emulator
(install 0 s, test 0 s), then submits jobs one at a time: each reaches a device that is idle
and waiting in its long-poll claim. The latency is the server's own `started_at - created_at`
(read from the database at full precision), i.e. submit -> wake-up -> claim -> agent -> start.

With `--database postgres`, two server replicas share one PostgreSQL schema: jobs are
submitted to the first, the agent long-polls the second, so every job crosses replicas
(the first replica's commit -> NOTIFY -> the second's listener -> its waiting claim).

    python -m benchmarks.dispatch_latency [--jobs 200] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.common import at_least, percentile, print_table, write_result
from benchmarks.stores import DEFAULT_PG, database
from tests.e2e.processes import Process, free_port, wait_healthy


def run(jobs: int, work: Path, db_url: str, replicas: int) -> dict[str, float]:
    servers, urls = [], []
    agent = None
    try:
        for index in range(replicas):
            port = free_port()
            urls.append(f"http://127.0.0.1:{port}")
            servers.append(Process("server", "--port", str(port), "--db", db_url,
                                   "--log-level", "warning", log=work / f"server{index}.log",
                                   env={"QGJOB_RATE_LIMIT_PER_SECOND": "0"}))  # tight polls
        for url, server in zip(urls, servers, strict=True):
            wait_healthy(url, server, timeout=60)
        url = urls[0]  # submits go here; the agent long-polls the last replica
        agent = Process("--server", urls[-1], "agent", "--name", "bench", "--devices",
                        "emulator:1",
                        "--install-seconds", "0", "--test-seconds", "0", "--log-level",
                        "warning", log=work / "agent.log")
        ids = []
        with httpx.Client(base_url=url, timeout=10) as http:
            _wait_for_idle_device(http)
            for index in range(jobs):
                body = {"org_id": "bench", "app_version_id": "app-1",
                        "test_path": f"tests/t{index}.spec.js"}
                job_id = http.post("/jobs", json=body).json()["job_id"]
                ids.append(job_id)
                while http.get(f"/jobs/{job_id}").json()["status"] != "completed":
                    time.sleep(0.002)
                _wait_for_idle_device(http)
    finally:
        if agent is not None:
            agent.stop(signal.SIGINT)
        for server in servers:
            server.stop()
    latencies = _latencies(db_url)[1:]  # the first job also pays the (zero-length) install
    return {"jobs": len(latencies), "p50_ms": percentile(latencies, 50),
            "p90_ms": percentile(latencies, 90), "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies), "mean_ms": sum(latencies) / len(latencies)}


def _latencies(db_url: str) -> list[float]:
    sql = ("SELECT (started_at - created_at) * 1000 FROM jobs WHERE started_at IS NOT NULL "
           "ORDER BY created_at")
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            return [row[0] for row in conn.execute(sql)]
    import psycopg

    from qgjob.store.postgres.database import parse_url

    conninfo, schema, _ = parse_url(db_url)
    with psycopg.connect(conninfo) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return [float(row[0]) for row in conn.execute(sql)]


def _wait_for_idle_device(http: httpx.Client) -> None:
    """Until the device is back in its long-poll (idle, no job)."""
    while True:
        agents = http.get("/agents").json()["agents"]
        devices = [d for a in agents for d in a["devices"]]
        if devices and all(d["state"] == "idle" and not d["current_job_id"] for d in devices):
            time.sleep(0.02)  # its claim request is in flight again
            return
        time.sleep(0.01)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=at_least(1), default=200)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres", default=DEFAULT_PG)
    args = parser.parse_args()
    replicas = 2 if args.database == "postgres" else 1
    with tempfile.TemporaryDirectory(prefix="qgjob-bench-") as work, \
            database(args.database, Path(work), args.postgres) as db_url:
        result = run(args.jobs + 1, Path(work), db_url, replicas)
    where = ("PostgreSQL, submitted to one server replica, claimed through another"
             if replicas > 1 else "SQLite, one server")
    print(f"dispatch latency, submit -> running on an idle device ({result['jobs']} jobs, "
          f"{where}, one agent process)")
    print_table(["metric", "ms"], [[k.removesuffix("_ms"), f"{v:.2f}"]
                                   for k, v in result.items() if k.endswith("_ms")])
    name = "dispatch_latency" if args.database == "sqlite" else "dispatch_latency_postgres"
    path = write_result(name, {"command": " ".join(["python", "-m", "benchmarks.dispatch_latency",
                                                    *sys.argv[1:]]),
                               "database": args.database, "replicas": replicas, **result})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
