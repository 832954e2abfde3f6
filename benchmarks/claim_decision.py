"""How long one claim decision takes with a big queue.

1. The policy alone: `choose_lane` + `choose_jobs` on a view of 10,000 queued jobs in 500
   groups (lanes), 20 devices of the target, some of them working, and submits paused (so
   the rule that weighs when each target drains is at work too).
2. A whole claim through the SQLite store: reading the lanes, the policy, assigning the batch,
   with 1,000 and 10,000 jobs queued (each batch is handed back, so the queue stays full).
   Their jobs were submitted up to the moment of the claims, so submits have not paused.
3. The same whole claim with the 10,000 jobs spread over three targets, while submits flow
   and once they have paused (the last submit ten minutes before the claims): each claim
   then also reads when every target drains (its lanes, the work its devices hold, its
   devices), the dearest claim the server makes. Through SQLite, and through PostgreSQL when
   `--postgres` reaches one.

    python -m benchmarks.claim_decision [--decisions 2000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import percentile, print_table, write_result
from benchmarks.stores import DEFAULT_PG, claim_latency, database
from qgjob.domain.models import NewJob, group_key_for
from qgjob.domain.values import PRIORITIES
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.scheduler.views import (
    ClaimContext,
    DeviceView,
    GroupWork,
    JobView,
    LaneView,
    OrgShare,
)

NOW = 1_800_000_000.0


def policy_view(jobs: int, groups: int, rng: random.Random) -> tuple[ClaimContext, list[JobView]]:
    per_lane = jobs // groups
    lanes = []
    for index in range(groups):
        priorities = [0] * len(PRIORITIES)
        for _ in range(per_lane):
            priorities[rng.choice([0, 1, 2, 2, 2, 3, 4])] += 1
        age = rng.uniform(0, 3600)
        lanes.append(LaneView(f"emulator|build{index}", f"org{index % 40}", f"build{index}",
                              "emulator", tuple(priorities), NOW - age, NOW - age - 5,
                              per_lane * rng.uniform(20, 60)))
    work = {f"emulator|build{i}": GroupWork(f"build{i}", 1, rng.uniform(10, 120))
            for i in rng.sample(range(groups), 15)}
    working = {group: item.devices for group, item in work.items()}
    orgs = {f"org{i}": OrgShare(f"org{i}", rng.randint(0, 2)) for i in range(40)}
    ctx = ClaimContext(DeviceView("lab/emulator-1", "emulator", "build7"), tuple(lanes),
                       working, orgs, 20, 1, 20.0, NOW, work=work,
                       retry_due={"build3": NOW + 5}, last_submit_at=NOW - 3600,
                       drains={"emulator": 900.0, "device": 1200.0, "browserstack": 300.0})
    candidates = [JobView(f"job{i}", rng.randint(1, 5), NOW - rng.uniform(0, 3600),
                          rng.uniform(10, 120)) for i in range(64)]
    return ctx, candidates


def time_policy(decisions: int) -> dict[str, float]:
    rng = random.Random(7)
    ctx, candidates = policy_view(10_000, 500, rng)
    policy = FairAffinityPolicy()
    samples = []
    for _ in range(decisions):
        started = time.perf_counter()
        choice = policy.choose_lane(ctx)
        if choice is not None:
            lane = next(lane for lane in ctx.lanes
                        if lane.key == (choice.group_key, choice.org_id))
            policy.choose_jobs(ctx, lane, candidates)
        samples.append((time.perf_counter() - started) * 1000)
    return _stats(samples)


def time_store(queued: int, decisions: int) -> dict[str, float]:
    rng = random.Random(11)
    jobs = [NewJob(f"j{i:07d}", f"org{i % 40}", f"build{i % 500}", f"tests/t{i % 60}.spec.js",
                   "emulator", rng.randint(1, 5), 3,
                   group_key_for(f"org{i % 40}", f"build{i % 500}", "emulator"),
                   NOW - rng.uniform(0, 3600)) for i in range(queued)]
    with tempfile.TemporaryDirectory(prefix="qgjob-claim-") as work:
        return claim_latency(f"sqlite:///{Path(work) / 'claims.db'}", jobs, decisions)


TARGETS = ("emulator", "device", "browserstack")
PAUSED_SECONDS = 600.0
"""How long before the claims the last job was submitted, in the paused runs: more than
`quiet_tests` (3) typical tests at the 60 s a target's test is priced before any finishes."""


def three_targets(queued: int, last_submit_ago: float) -> list[NewJob]:
    """`queued` jobs over three targets in 500 builds, the last submitted `last_submit_ago`
    seconds before the claims."""
    rng = random.Random(13)
    return [NewJob(f"p{i:07d}", f"org{i % 40}", f"build{i % 500}", f"tests/t{i % 60}.spec.js",
                   TARGETS[i % 3], rng.randint(1, 5), 3,
                   group_key_for(f"org{i % 40}", f"build{i % 500}", TARGETS[i % 3]),
                   NOW - last_submit_ago - rng.uniform(0, 3000)) for i in range(queued)]


def time_three_targets(kind: str, pg_url: str, queued: int, last_submit_ago: float,
                       decisions: int) -> dict[str, float]:
    """A whole claim on one of three targets (its 20 emulators claim; the other two targets
    have queued work and no devices, so their held work is none)."""
    with tempfile.TemporaryDirectory(prefix="qgjob-claim-") as work, \
            database(kind, Path(work), pg_url) as url:
        return claim_latency(url, three_targets(queued, last_submit_ago), decisions)


def _reachable(pg_url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(pg_url, connect_timeout=3):
            return True
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        print(f"PostgreSQL at {pg_url} is not reachable ({reason}): its rows are left out",
              file=sys.stderr)
        return False


def _stats(samples: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(samples), "p99_ms": percentile(samples, 99),
            "mean_ms": statistics.fmean(samples), "samples": len(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description="claim decision time with a big queue")
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--postgres", default=DEFAULT_PG, help="a PostgreSQL server URL")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "policy, 10,000 jobs in 500 groups": time_policy(args.decisions),
        "SQLite claim, 1,000 queued": time_store(1_000, args.decisions // 2),
        "SQLite claim, 10,000 queued": time_store(10_000, args.decisions // 2),
    }
    for kind, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        if kind == "postgresql" and not _reachable(args.postgres):
            continue
        for state, ago in (("flowing", 0.0), ("paused", PAUSED_SECONDS)):
            results[f"{name} claim, 10,000 queued on 3 targets, submits {state}"] = \
                time_three_targets(kind, args.postgres, 10_000, ago, args.decisions // 2)
    print("One claim decision (milliseconds)")
    print_table(["what", "median", "p99", "mean"],
                [[name, f"{r['median_ms']:.3f}", f"{r['p99_ms']:.3f}", f"{r['mean_ms']:.3f}"]
                 for name, r in results.items()])
    path = write_result("claim_decision", {
        "command": "python -m benchmarks.claim_decision " + " ".join(sys.argv[1:]),
        "results": results})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
