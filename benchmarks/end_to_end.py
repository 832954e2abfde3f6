"""Whole-system throughput, and how the server grows with its queue.

1. End to end: 10,000 zero-length simulated jobs (`--test-seconds 0 --install-seconds 0`,
   labelled simulated in every result) submitted in batches to one `qgjob server`, run by one
   `qgjob agent` process with 50 simulated devices, until every job has completed. jobs/s is
   jobs over the wall time from the first submit to the moment none is left unfinished, for
   SQLite (flushed on every commit, and in WAL's `normal` mode) and for PostgreSQL.
2. Growth: a `qgjob server` with 1,000, 10,000 and 100,000 jobs queued (always the same 200
   builds of 20 orgs, so only the depth changes): the latency of a claim over HTTP (claim,
   then hand the batch back so the queue keeps its size; 20 devices in turn) and the server
   process's memory (resident set now, and its peak), read from /proc. Goal: RSS <= 300 MB
   at 100k.

    python -m benchmarks.end_to_end [--jobs 10000] [--devices 50] [--postgres URL]
                                    [--sizes 1000,10000,100000] [--skip-postgres]
                                    [--parts end-to-end,growth]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import at_least, percentile, print_table, write_result
from benchmarks.stores import DEFAULT_PG, database, server
from tests.e2e.processes import Process

BATCH = 1000
ORGS, BUILDS = 20, 200


def submit(http: httpx.Client, count: int, tag: str, builds: int) -> None:
    for start in range(0, count, BATCH):
        jobs = [{"org_id": f"org{i % ORGS}", "app_version_id": f"{tag}-build{i % builds}",
                 "test_path": f"tests/flow-{i}.spec.js", "priority": 1 + i % 5}
                for i in range(start, min(count, start + BATCH))]
        response = http.post("/jobs/batch", json={"jobs": jobs})
        response.raise_for_status()


def memory_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return {"rss_mb": fields["VmRSS"], "peak_rss_mb": fields["VmHWM"]}


# 1. end to end ------------------------------------------------------------------------------

def end_to_end(db_url: str, work: Path, jobs: int, devices: int) -> dict[str, Any]:
    with server(db_url, work) as (url, process), httpx.Client(base_url=url, timeout=60) as http:
        agent = Process("--server", url, "agent", "--name", "bench", "--devices",
                        f"emulator:{devices}", "--install-seconds", "0", "--test-seconds", "0",
                        "--log-level", "warning", log=work / "agent.log")
        try:
            _wait_for_devices(http, devices)
            started = time.time()
            submit(http, jobs, "e2e", builds=20)
            submitted = time.time()
            quiet = 0
            while quiet < 2:  # twice in a row: no job queued, assigned or running
                summary = http.get("/queue").json()
                quiet = quiet + 1 if summary["queued"] + summary["running"] == 0 else 0
                if agent.popen.poll() is not None:
                    raise SystemExit(f"the agent exited:\n{agent.output()[-2000:]}")
                time.sleep(0.1)
            wall = time.time() - started
            listed = http.get("/jobs", params={"limit": 1000}).json()["jobs"]
            completed = sum(1 for j in listed if j["status"] == "completed")
            memory = memory_mb(process.popen.pid)
        finally:
            agent.stop(signal.SIGINT)
    return {"jobs": jobs, "devices": devices, "simulated": True,
            "submit_seconds": submitted - started, "wall_seconds": wall,
            "jobs_per_s": jobs / wall, "sample_completed_of_1000": completed, **memory}


def _wait_for_devices(http: httpx.Client, devices: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        agents = http.get("/agents").json()["agents"]
        if sum(len(a["devices"]) for a in agents) >= devices:
            time.sleep(0.5)  # their claims are in flight
            return
        time.sleep(0.1)
    raise SystemExit("the agent's devices did not come online")


# 2. growth ----------------------------------------------------------------------------------

def growth(db_url: str, work: Path, sizes: list[int], claims: int) -> list[dict[str, Any]]:
    rows = []
    with server(db_url, work) as (url, process), httpx.Client(base_url=url, timeout=60) as http:
        agent = http.post("/agents", json={
            "name": "growth", "executor": "simulated (benchmark)",
            "devices": [{"name": f"emulator-{d}", "target": "emulator"}
                        for d in range(1, 21)]}).json()["agent"]["agent_id"]
        queued = 0
        baseline = memory_mb(process.popen.pid)
        for size in sizes:
            submit(http, size - queued, "growth", builds=BUILDS)  # the same 200 lanes
            queued = size
            samples = []
            for index in range(claims):
                device = f"emulator-{index % 20 + 1}"
                started = time.perf_counter()
                response = http.post(f"/agents/{agent}/claim", json={
                    "device": device, "target": "emulator", "wait_seconds": 0})
                samples.append((time.perf_counter() - started) * 1000)
                if response.status_code == 200:
                    batch = response.json()
                    http.post(f"/agents/{agent}/leases/{batch['lease_id']}/release",
                              json={"job_ids": [j["job_id"] for j in batch["jobs"]]}
                              ).raise_for_status()
            rows.append({"queued": size, "claims": claims,
                         "claim_p50_ms": percentile(samples, 50),
                         "claim_p99_ms": percentile(samples, 99),
                         **memory_mb(process.popen.pid),
                         "rss_at_start_mb": baseline["rss_mb"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=at_least(1), default=10_000)
    parser.add_argument("--devices", type=at_least(1), default=50)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--claims", type=at_least(1), default=300)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--parts", default="end-to-end,growth")
    parser.add_argument("--sqlite-synchronous", default="full,normal",
                        help="SQLite durability modes to run: full (the default: every commit "
                             "is on disk when answered), normal (WAL: a power cut may lose the "
                             "last commits, a crash of the server loses nothing)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = [f"sqlite-{mode}" for mode in args.sqlite_synchronous.split(",")]
    kinds += [] if args.skip_postgres else ["postgres"]
    result: dict[str, Any] = {"end_to_end": {}, "growth": {}}
    with tempfile.TemporaryDirectory(prefix="qgjob-bench-") as tmp:
        work = Path(tmp)
        for kind in kinds:
            dialect, _, mode = kind.partition("-")
            options = f"?synchronous={mode}" if mode else ""
            if "end-to-end" in args.parts:
                with database(dialect, work, args.postgres) as db_url:
                    result["end_to_end"][kind] = end_to_end(db_url + options, work, args.jobs,
                                                            args.devices)
            if kind == "sqlite-normal" or "growth" not in args.parts:
                continue  # claim latency and memory do not depend on the flush mode
            with database(dialect, work, args.postgres) as db_url:
                result["growth"][kind] = growth(db_url + options, work, sizes, args.claims)
    print(f"end to end: {args.jobs} zero-length simulated jobs, one server, one agent with "
          f"{args.devices} simulated devices")
    print_table(["database", "jobs/s", "wall s", "submit s", "server RSS MB"], [
        [kind, f"{r['jobs_per_s']:.0f}", f"{r['wall_seconds']:.1f}",
         f"{r['submit_seconds']:.2f}", f"{r['rss_mb']:.0f}"]
        for kind, r in result["end_to_end"].items()])
    print(f"\ngrowth: claim over HTTP ({args.claims} claims, each handed back) and server "
          "memory by jobs queued")
    print_table(["database", "queued", "claim p50 ms", "claim p99 ms", "RSS MB", "peak RSS MB"],
                [[kind, f"{r['queued']:,}", f"{r['claim_p50_ms']:.2f}",
                  f"{r['claim_p99_ms']:.2f}", f"{r['rss_mb']:.0f}", f"{r['peak_rss_mb']:.0f}"]
                 for kind, rows in result["growth"].items() for r in rows])
    print("goal: RSS <= 300 MB with 100,000 queued")
    name = "end_to_end" if set(args.parts.split(",")) == {"end-to-end", "growth"} \
        else f"end_to_end-{args.parts}"
    path = write_result(name, {
        "command": " ".join(["python", "-m", "benchmarks.end_to_end", *sys.argv[1:]]),
        **result})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
