"""Submit throughput: one job per request against the ceiling of our stack, and bulk submits.

1. `POST /jobs` over HTTP with 16 concurrent keep-alive connections, driven by `wrk` (Debian's
   `apt-get install wrk`; one thread, a Lua script giving every request its own test), against
   a real `qgjob server` on SQLite and, beside it, `benchmarks/reference_server.py`: a bare
   FastAPI endpoint that validates the same body and inserts one row with the same durability.
   Runs alternate (reference, ours, reference, ours, ...) and each server's median run counts;
   afterwards each database must hold exactly the jobs that were answered 201.
2. Bulk: `POST /jobs/batch` with 1,000 jobs per request, one client connection, as fast as the
   server answers; and the path `qgjob run` / `qgjob submit` take for a suite of hundreds of
   tests (the CLI's own client, idempotency keys and chunking, timed in-process: the median
   of 5 submissions, each of a new build; and the whole command timed once as a process).

    python -m benchmarks.submit_throughput [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import at_least, print_table, write_result
from benchmarks.stores import server
from tests.e2e.processes import Process, free_port, wait_healthy

HERE = Path(__file__).parent
CONNECTIONS = 16
BATCH = 1000
SUITE_ROUNDS = 5


def wrk(url: str, seconds: float) -> dict[str, Any]:
    done = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency",
         "-s", str(HERE / "submit.lua"), url],
        capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK_JSON "))
    stats: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(v for k, v in stats.items() if k.startswith("errors_"))
    stats["ok"] = stats["requests"] - errors
    stats["jobs_per_s"] = stats["ok"] / (stats["duration_us"] / 1e6)
    return stats


def rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])


def single_submits(work: Path, seconds: float, rounds: int) -> dict[str, Any]:
    ref_port = free_port()
    ref_db, our_db = work / "reference.db", work / "qgjob.db"
    reference = Process("--port", str(ref_port), "--db", str(ref_db),
                        module="benchmarks.reference_server", log=work / "reference.log")
    runs: dict[str, list[dict[str, Any]]] = {"reference": [], "qgjob": []}
    try:
        with server(f"sqlite:///{our_db}", work) as (our_url, _):
            urls = {"reference": f"http://127.0.0.1:{ref_port}", "qgjob": our_url}
            wait_healthy(urls["reference"], reference)
            for name in runs:  # warm up: imports, first pages of the database, thread pools
                wrk(urls[name], 2)
            for _ in range(rounds):
                for name in runs:
                    runs[name].append(wrk(urls[name], seconds))
    finally:
        reference.stop()
    answered = {name: sum(r["ok"] for r in results) for name, results in runs.items()}
    stored = {"reference": rows(ref_db), "qgjob": rows(our_db)}
    result: dict[str, Any] = {"connections": CONNECTIONS, "seconds": seconds, "rounds": rounds}
    for name, results in runs.items():
        median = sorted(results, key=lambda r: r["jobs_per_s"])[len(results) // 2]
        result[name] = {"jobs_per_s": median["jobs_per_s"],
                        "p50_ms": median["p50_us"] / 1000, "p99_ms": median["p99_us"] / 1000,
                        "errors": sum(r["requests"] - r["ok"] for r in results),
                        "runs_jobs_per_s": [round(r["jobs_per_s"], 1) for r in results],
                        "answered_in_measured_runs": answered[name],
                        "rows_stored": stored[name]}
    result["ratio"] = result["qgjob"]["jobs_per_s"] / result["reference"]["jobs_per_s"]
    return result


def bulk_submits(work: Path, batches: int, suite_sizes: list[int]) -> dict[str, Any]:
    import http.client

    from qgjob.cli.http import ApiClient
    from qgjob.cli.jobs import Submission, queue_job_ids

    db = work / "bulk.db"
    result: dict[str, Any] = {}
    with server(f"sqlite:///{db}", work) as (url, _):
        port = int(url.rpartition(":")[2])
        bodies = [json.dumps({"jobs": [
            {"org_id": "acme", "app_version_id": f"build-{b % 4}",
             "test_path": f"tests/suite-{b}/flow-{i}.spec.js", "priority": 1 + i % 5}
            for i in range(BATCH)]}).encode() for b in range(batches + 2)]
        conn = http.client.HTTPConnection("127.0.0.1", port)
        timings = []
        for index, body in enumerate(bodies):
            started = time.perf_counter()
            conn.request("POST", "/jobs/batch", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status != 201:
                raise SystemExit(f"POST /jobs/batch answered {response.status}")
            if index >= 2:  # the first two warm up
                timings.append(time.perf_counter() - started)
        conn.close()
        result["batch"] = {
            "jobs_per_request": BATCH, "requests": len(timings),
            "jobs_per_s": BATCH * len(timings) / sum(timings),
            "median_request_ms": statistics.median(timings) * 1000,
            "max_request_ms": max(timings) * 1000}
        suites = []
        for size in suite_sizes:
            tests = [f"tests/cli-{size}/flow-{i}.spec.js" for i in range(size)]
            timings = []
            for round_ in range(SUITE_ROUNDS):  # a fresh build and key each round
                client = ApiClient(url, None)
                started = time.perf_counter()
                ids = queue_job_ids(client, tests, Submission(
                    "acme", f"cli-{size}-{round_}", "emulator", 3, None, f"bench-{size}")).ids
                timings.append(time.perf_counter() - started)
                client.close()
                assert len(set(ids)) == size
            command = [sys.executable, "-m", "qgjob", "--server", url, "submit",
                       "--org-id", "acme", "--app-version-id", f"proc-{size}"]
            for test in tests:
                command += ["--test", test.replace("cli-", "proc-")]
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            process_seconds = time.perf_counter() - started
            submit = statistics.median(timings)
            suites.append({"tests": size, "rounds": SUITE_ROUNDS, "submit_ms": submit * 1000,
                           "jobs_per_s": size / submit,
                           "slowest_ms": max(timings) * 1000,
                           "whole_command_ms": process_seconds * 1000})
        result["cli_suites"] = suites
    expected = BATCH * (batches + 2) + (SUITE_ROUNDS + 1) * sum(suite_sizes)
    result["rows_stored"] = rows(db)
    result["rows_expected"] = expected
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=at_least(1), default=3)
    parser.add_argument("--batches", type=at_least(1), default=30)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark drives the server with wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="qgjob-bench-") as tmp:
        single = single_submits(Path(tmp), args.seconds, args.rounds)
        bulk = bulk_submits(Path(tmp), args.batches, [200, 500, 5000])
    ref, ours = single["reference"], single["qgjob"]
    print(f"POST /jobs, {CONNECTIONS} connections (wrk), SQLite, synchronous=FULL; median of "
          f"{args.rounds} runs of {args.seconds:g} s")
    print_table(["server", "jobs/s", "p50 ms", "p99 ms", "errors", "stored = answered"], [
        [name, f"{r['jobs_per_s']:.0f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
         r["errors"], r["rows_stored"] >= r["answered_in_measured_runs"]]
        for name, r in (("bare FastAPI + SQLite", ref), ("qgjob server", ours))])
    print(f"ratio qgjob / ceiling: {single['ratio']:.2f} (goal >= 0.6)\n")
    print(f"bulk submits into SQLite (rows stored {bulk['rows_stored']} of "
          f"{bulk['rows_expected']})")
    batch = bulk["batch"]
    table = [[f"POST /jobs/batch x {batch['requests']}", BATCH,
              f"{batch['median_request_ms']:.1f}", f"{batch['jobs_per_s']:.0f}", ""]]
    table += [[f"qgjob submit/run path, {s['tests']} tests", s["tests"], f"{s['submit_ms']:.1f}",
               f"{s['jobs_per_s']:.0f}", f"{s['whole_command_ms']:.0f}"]
              for s in bulk["cli_suites"]]
    print_table(["what", "jobs", "ms (median)", "jobs/s", "whole command ms"], table)
    print("goal: >= 20,000 jobs/s")
    path = write_result("submit_throughput", {
        "command": " ".join(["python", "-m", "benchmarks.submit_throughput", *sys.argv[1:]]),
        "database": "sqlite", "single": single, "bulk": bulk})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
