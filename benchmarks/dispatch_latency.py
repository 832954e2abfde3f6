"""Submit-to-running latency on an idle device.

Starts a real `qgjob server` (SQLite) and a real `qgjob agent` with one simulated emulator
(install 0 s, test 0 s), then submits jobs one at a time: each reaches a device that is idle
and waiting in its long-poll claim. The latency is the server's own `started_at - created_at`
(read from the database at full precision), i.e. submit -> wake-up -> claim -> agent -> start.

    python -m benchmarks.dispatch_latency [--jobs 200]
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

from benchmarks.common import percentile, print_table, write_result
from tests.e2e.processes import Process, free_port, wait_healthy


def run(jobs: int, work: Path) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db = work / "bench.db"
    server = Process("server", "--port", str(port), "--db", f"sqlite:///{db}",
                     "--log-level", "warning", log=work / "server.log",
                     env={"QGJOB_RATE_LIMIT_PER_SECOND": "0"})  # it polls in a tight loop
    agent = None
    try:
        wait_healthy(url, server)
        agent = Process("--server", url, "agent", "--name", "bench", "--devices", "emulator:1",
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
        server.stop()
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT (started_at - created_at) * 1000 FROM jobs WHERE started_at IS NOT NULL "
            "ORDER BY created_at").fetchall()
    latencies = [r[0] for r in rows][1:]  # the first job also pays the (zero-length) install
    return {"jobs": len(latencies), "p50_ms": percentile(latencies, 50),
            "p90_ms": percentile(latencies, 90), "p99_ms": percentile(latencies, 99),
            "max_ms": max(latencies), "mean_ms": sum(latencies) / len(latencies)}


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
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qgjob-bench-") as work:
        result = run(args.jobs + 1, Path(work))
    print(f"dispatch latency, submit -> running on an idle device ({result['jobs']} jobs, "
          "SQLite, one server and one agent process)")
    print_table(["metric", "ms"], [[k.removesuffix("_ms"), f"{v:.2f}"]
                                   for k, v in result.items() if k.endswith("_ms")])
    path = write_result("dispatch_latency", {"command": " ".join(["python", "-m",
                                                                   "benchmarks.dispatch_latency",
                                                                   *sys.argv[1:]]),
                                             "database": "sqlite", **result})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
