"""Test-health and stats queries with many finished attempts, on SQLite and PostgreSQL.

A history of `--attempts` finished attempts (200,000 by default; `--attempts 1000000` for the
issue's goal) of 20 orgs x 100 test files, over 90 days, a build a day per org and two CI
runs per build: most tests pass, 5 % are flaky (fail 30 % of the time), 2 % broken. Each job
retries a failure up to 3 attempts. The history is folded through the same pure code the
server uses (`qgjob.domain.health.record`, the stats buckets) and bulk-loaded into the
tables the write path keeps (jobs, attempts, test_health, test_builds, org_hours,
org_waits; per-org hours older than 2 days rolled up into days, as maintenance does), so
building it does not take hours of real transactions. Then, timed:

- what `GET /tests` reads: one org's tests sorted by flakiness and by duration, every
  org's (an admin), one file's cases;
- what `GET /stats` reads: one org over 7 and 90 days, every org over 90 days;
- the evidence a failed attempt's retry decision reads (earlier failures on its build);
- the write path: real claim, start and finish transactions of new attempts on top of that
  history (the finish folds the attempt into its test's summary and its org's hour).

    python -m benchmarks.test_health [--attempts 200000] [--repeat 200] [--postgres URL]
                                     [--only sqlite|postgresql]

Prints a table of p50 / p95 milliseconds per query and database; writes
benchmarks/results/test_health-<attempts>.json.
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import at_least, command_line, percentile, print_table, write_result
from benchmarks.stores import DEFAULT_PG, database
from qgjob.domain.attempts import Outcome, RetryPolicy, Verdict, after_attempt
from qgjob.domain.health import TestKey, TestQuery, TestRun, TestSummary, record
from qgjob.domain.models import DeviceSpec, Job, NewJob, group_key_for
from qgjob.domain.stats import epoch_hour, wait_bucket
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.scheduler.views import FleetRules
from qgjob.store import open_store
from qgjob.store.base import Store
from qgjob.store.sql.health import summary_params

NOW = 1_800_000_000.0
DAYS = 90
ORGS = 20
TESTS_PER_ORG = 100
WRITES = 300


@dataclass
class History:
    """What the write path would have left after `attempts` finished attempts."""

    jobs: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    summaries: dict[TestKey, TestSummary] = field(default_factory=dict)
    builds: dict[tuple[TestKey, str], list[float]] = field(default_factory=dict)
    """(test, build) -> [passed, failed, first_at, last_at]."""
    build_order: dict[TestKey, list[str]] = field(default_factory=dict)
    """Each test's builds, oldest first."""
    hours: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    waits: dict[tuple[str, int, int], int] = field(default_factory=dict)
    failed_jobs: list[str] = field(default_factory=list)


def build_history(attempts: int, seed: int = 7) -> History:
    rng = random.Random(seed)
    history = History()
    tests = [(f"org{o:02d}", f"tests/t{t:03d}.spec.js") for o in range(ORGS)
             for t in range(TESTS_PER_ORG)]
    fail_rate = {test: 0.3 if i % 20 == 0 else 1.0 if i % 50 == 1 else 0.01
                 for i, test in enumerate(tests)}
    runs_per_test = max(attempts // len(tests), 1)
    spacing = DAYS * 86400 / runs_per_test
    made = 0
    for run in range(runs_per_test):
        for org, path in tests:
            if made >= attempts:
                return history
            at = NOW - DAYS * 86400 + run * spacing + rng.uniform(0, spacing / 2)
            build = f"build{int(run * DAYS / runs_per_test)}"
            made += _job(history, rng, org, path, build, at, fail_rate[(org, path)])
    return history


def _job(history: History, rng: random.Random, org: str, path: str, build: str, at: float,
         fail_rate: float) -> int:
    """One job of up to 3 attempts on two devices; how many attempts it made."""
    job_id = f"j{len(history.jobs):08d}"
    created, started, tries, passed = at - rng.uniform(0, 120), at, 0, False
    while tries < 3 and not passed:
        tries += 1
        seconds = rng.lognormvariate(2.3, 0.3)
        passed = rng.random() >= fail_rate
        error = None if passed else "expected 'Welcome', got 'Error'"
        history.attempts.append({
            "job_id": job_id, "attempt": tries, "device_id": f"lab/emulator-{tries % 2}",
            "agent_name": "lab", "started_at": at, "finished_at": at + seconds,
            "outcome": "passed" if passed else "failed", "error": error})
        _fold(history, TestKey(org, "emulator", path), build, passed, seconds, at + seconds,
              error, job_id)
        hour = history.hours.setdefault((org, epoch_hour(at + seconds)), [0] * 6)
        hour[4] += 1
        hour[5] += seconds
        at += seconds + 5
    state = "completed" if passed else "failed"
    hour = history.hours.setdefault((org, epoch_hour(at)), [0] * 6)
    hour[0 if passed else 1] += 1
    hour[3] += int(passed and tries > 1)
    wait = (org, epoch_hour(at), wait_bucket(started - created))
    history.waits[wait] = history.waits.get(wait, 0) + 1
    history.jobs.append({
        "id": job_id, "org_id": org, "app_version_id": build, "test_path": path,
        "target": "emulator", "priority": 3,
        "group_key": str(group_key_for(org, build, "emulator")),
        "state": state, "attempts": tries, "max_attempts": 3, "expected_seconds": 10.0,
        "flaky": int(passed and tries > 1), "created_at": created, "updated_at": at,
        "started_at": started, "finished_at": at})
    if not passed:
        history.failed_jobs.append(job_id)
    return tries


def _fold(history: History, key: TestKey, build: str, passed: bool, seconds: float,
          at: float, error: str | None, job_id: str) -> None:
    if (key, build) not in history.builds:
        history.builds[key, build] = [0, 0, at, at]
        history.build_order.setdefault(key, []).append(build)
    counts = history.builds[key, build]
    counts[0 if passed else 1] += 1
    counts[3] = at
    recent = [history.builds[key, b] for b in reversed(history.build_order[key][-20:])]
    history.summaries[key] = record(
        history.summaries.get(key), TestRun(key, build, passed, seconds, at, error, job_id),
        [(int(c[0]), int(c[1])) for c in recent])


# loading ----------------------------------------------------------------------------------

def load(store: Store, history: History) -> None:
    """Bulk-insert the history into the tables the write path keeps."""
    db = store._db  # type: ignore[attr-defined]  # a benchmark's bulk load, not an API
    tables: list[tuple[str, list[dict[str, Any]]]] = [
        ("jobs", history.jobs), ("attempts", history.attempts),
        ("test_health", [summary_params(s) for s in history.summaries.values()]),
        ("test_builds", [{"org_id": k.org_id, "target": k.target, "test_path": k.test_path,
                          "title": k.title, "app_version_id": b, "passed": c[0],
                          "failed": c[1], "first_at": c[2], "last_at": c[3]}
                         for (k, b), c in history.builds.items()]),
        ("org_hours", [{"org_id": o, "epoch_hour": h, "completed": c[0], "failed": c[1],
                        "cancelled": c[2], "flaky": c[3], "attempts": c[4],
                        "device_seconds": c[5]} for (o, h), c in history.hours.items()]),
        ("org_waits", [{"org_id": o, "epoch_hour": h, "bucket": b, "jobs": n}
                       for (o, h, b), n in history.waits.items()]),
    ]
    for table, rows in tables:
        for start in range(0, len(rows), 20_000):
            with db.write() as conn:
                columns = list(rows[0])
                sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                       f"({', '.join(conn.param(c) for c in columns)})")
                conn.raw.cursor().executemany(sql, rows[start:start + 20_000])
    with db.write() as conn:  # fresh planner statistics, as a long-lived database has
        conn.raw.execute("ANALYZE")


# timing -----------------------------------------------------------------------------------

def timed(repeat: int, call: Callable[[int], object]) -> dict[str, float]:
    samples = []
    for index in range(repeat):
        began = time.perf_counter()
        call(index)
        samples.append((time.perf_counter() - began) * 1000)
    return {"p50_ms": percentile(samples, 50), "p95_ms": percentile(samples, 95),
            "max_ms": max(samples), "samples": len(samples)}


def queries(store: Store, history: History, repeat: int) -> dict[str, dict[str, float]]:
    rng = random.Random(3)
    orgs = [f"org{o:02d}" for o in range(ORGS)]

    def org(_: int) -> str:
        return rng.choice(orgs)

    return {
        "tests: one org, most flaky first": timed(repeat, lambda i: store.test_health(
            TestQuery(org_id=org(i), sort="flaky"))),
        "tests: one org, slowest first": timed(repeat, lambda i: store.test_health(
            TestQuery(org_id=org(i), sort="slowest"))),
        "tests: every org (admin), top 200": timed(repeat, lambda i: store.test_health(
            TestQuery(sort="flaky"))),
        "tests: one file with its cases": timed(repeat, lambda i: store.test_health(
            TestQuery(org_id=org(i), test_path=f"tests/t{i % TESTS_PER_ORG:03d}.spec.js",
                      cases=True))),
        "stats: one org, 7 days": timed(repeat, lambda i: store.org_stats(
            org(i), NOW - 7 * 86400)),
        "stats: one org, 90 days": timed(repeat, lambda i: store.org_stats(
            org(i), NOW - DAYS * 86400)),
        "stats: every org, 90 days": timed(repeat, lambda i: store.org_stats(
            None, NOW - DAYS * 86400)),
        "retry evidence of a failed job": timed(repeat, lambda i: store.failure_evidence(
            rng.choice(history.failed_jobs), 0.1)),
        "write: finish an attempt (claim+start+finish)": writes(store, WRITES),
    }


def _verdict(job: Job, outcome: Outcome, at: float, retry: RetryPolicy) -> Verdict:
    """The server's decision on a finished attempt (the retry's jitter drawn as 0.5)."""
    return after_attempt(job, outcome, "boom", at, retry, 0.5)


def writes(store: Store, count: int) -> dict[str, float]:
    """Real attempts of existing tests on a new build, each folded into the history."""
    rules, policy = FleetRules(), FairAffinityPolicy()
    store.register_agent("bench", "bench", "0", "simulate",
                         [DeviceSpec("emulator-1", "emulator")], NOW)
    store.insert_jobs([NewJob(f"w{i:05d}", f"org{i % ORGS:02d}", "build-new",
                              f"tests/t{i % TESTS_PER_ORG:03d}.spec.js", "emulator", 3, 1,
                              group_key_for(f"org{i % ORGS:02d}", "build-new", "emulator"), NOW)
                       for i in range(count)])
    samples = []
    retry = RetryPolicy()
    for index in range(count):
        now = NOW + index
        result = store.claim_batch("bench", "emulator-1", "build-new", now, 30.0, policy, rules)
        if result.batch is None:
            break
        lease = result.batch.lease.lease_id
        for job in result.batch.jobs:
            started = store.start_attempt(job.job_id, lease, now, policy, rules)
            outcome = Outcome.FAILED if index % 10 == 0 else Outcome.PASSED
            end = now + 1
            began = time.perf_counter()
            store.finish_attempt(job.job_id, lease, started.attempts, outcome, "boom", end,
                                 functools.partial(_verdict, outcome=outcome, at=end,
                                                   retry=retry))
            samples.append((time.perf_counter() - began) * 1000)
    return {"p50_ms": percentile(samples, 50), "p95_ms": percentile(samples, 95),
            "max_ms": max(samples), "samples": len(samples)}


@contextmanager
def loaded(kind: str, work: Path, pg_url: str, history: History,
           say: Callable[[str], None]) -> Iterator[tuple[Store, float]]:
    with database(kind, work, pg_url) as url:
        store = open_store(url)
        try:
            began = time.perf_counter()
            say(f"{kind}: loading {len(history.attempts):,} attempts")
            load(store, history)
            store.roll_up_org_hours(NOW - 2 * 86400)  # as hourly maintenance keeps it
            yield store, time.perf_counter() - began
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=at_least(1), default=200_000)
    parser.add_argument("--repeat", type=at_least(1), default=200, help="runs of each query")
    parser.add_argument("--postgres", default=DEFAULT_PG, help="a PostgreSQL server URL")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()

    def say(line: str) -> None:
        print(f"  … {line}", file=sys.stderr, flush=True)

    say(f"folding {args.attempts:,} attempts into test histories")
    history = build_history(args.attempts)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="qgjob-health-") as work:
        for kind in [args.only] if args.only else ["sqlite", "postgresql"]:
            with loaded(kind, Path(work), args.postgres, history, say) as (store, seconds):
                say(f"{kind}: timing")
                results[kind] = {"load_seconds": round(seconds, 1),
                                 "queries": queries(store, history, args.repeat)}
    kinds = list(results)
    names = list(results[kinds[0]]["queries"])
    rows = [[name, *[f"{results[k]['queries'][name]['p50_ms']:.2f} / "
                     f"{results[k]['queries'][name]['p95_ms']:.2f}" for k in kinds]]
            for name in names]
    print(f"{len(history.attempts):,} finished attempts, {len(history.jobs):,} jobs, "
          f"{len(history.summaries):,} tests, {len(history.builds):,} test builds; "
          "p50 / p95 ms")
    print_table(["query", *kinds], rows)
    path = write_result(f"test_health-{len(history.attempts)}", {
        "command": command_line("benchmarks.test_health"),
        "attempts": len(history.attempts), "jobs": len(history.jobs),
        "tests": len(history.summaries), "test_builds": len(history.builds),
        "results": results})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
