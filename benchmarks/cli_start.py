"""CLI cold start: how long `qgjob --help` and `qgjob status` take from a fresh process, with
the interpreter's own start-up (`python -c pass`) as the reference. `status` asks a real
server (started here, SQLite) about a real job. Goal: both <= 0.3 s.

    python -m benchmarks.cli_start [--runs 15] [--save]

The JSON goes to the temporary directory unless `--save` asks for the tracked
benchmarks/results/cli_start.json: a user checking the goal should not dirty the checkout.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.common import at_least, command_line, percentile, print_table, write_result
from tests.e2e.processes import Process, free_port, wait_healthy

GOAL_SECONDS = 0.3


def timed(argv: list[str], runs: int) -> dict[str, float]:
    samples = []
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    subprocess.run(argv, capture_output=True, env=env)  # compiled files are written once
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, env=env)
        samples.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{argv} failed: {done.stderr.decode()[-500:]}")
    return {"median_s": statistics.median(samples), "p90_s": percentile(samples, 90),
            "min_s": min(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description="CLI cold start")
    parser.add_argument("--runs", type=at_least(1), default=15)
    parser.add_argument("--save", action="store_true",
                        help="write benchmarks/results/cli_start.json (default: a temp file)")
    args = parser.parse_args()
    qgjob = [sys.executable, "-m", "qgjob"]
    with tempfile.TemporaryDirectory(prefix="qgjob-cli-") as work:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = Process("server", "--port", str(port), "--db",
                         f"sqlite:///{Path(work) / 'cli.db'}", "--log-level", "warning",
                         log=Path(work) / "server.log")
        try:
            wait_healthy(url, server)
            job_id = httpx.post(f"{url}/jobs", json={
                "org_id": "bench", "app_version_id": "v1",
                "test_path": "tests/a.spec.js"}).json()["job_id"]
            results = {
                "python -c pass (reference)": timed([sys.executable, "-c", "pass"], args.runs),
                "qgjob --help": timed([*qgjob, "--help"], args.runs),
                "qgjob status --job-id ID": timed(
                    [*qgjob, "--server", url, "status", "--job-id", job_id], args.runs),
            }
        finally:
            server.stop(signal.SIGTERM)
    print(f"CLI cold start, {args.runs} runs each (seconds; goal <= {GOAL_SECONDS})")
    print_table(["command", "median", "p90", "min"],
                [[name, f"{r['median_s']:.3f}", f"{r['p90_s']:.3f}", f"{r['min_s']:.3f}"]
                 for name, r in results.items()])
    path = write_result("cli_start", {
        "command": command_line("benchmarks.cli_start"),
        "goal_seconds": GOAL_SECONDS, "results": results}, save=args.save)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
