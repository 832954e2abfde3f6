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

from benchmarks.common import at_least, command_line, percentile, print_table, write_result
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
from tests.postgres import unreachable

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


TARGETS = ("emulator", "device", "browserstack")
PAUSED_SECONDS = 600.0
"""How long before the claims the last job was submitted, in the paused runs: more than
`quiet_tests` (3) typical tests at the 60 s a target's test is priced before any finishes."""


def queue(queued: int, targets: tuple[str, ...], *, seed: int, prefix: str, span: float,
          last_submit_ago: float = 0.0) -> list[NewJob]:
    """`queued` jobs in 500 builds of 40 orgs, round the `targets`, submitted over `span`
    seconds up to `last_submit_ago` before the claims."""
    rng = random.Random(seed)
    return [NewJob(f"{prefix}{i:07d}", f"org{i % 40}", f"build{i % 500}",
                   f"tests/t{i % 60}.spec.js", targets[i % len(targets)], rng.randint(1, 5), 3,
                   group_key_for(f"org{i % 40}", f"build{i % 500}", targets[i % len(targets)]),
                   NOW - last_submit_ago - rng.uniform(0, span)) for i in range(queued)]


def time_store(kind: str, jobs: list[NewJob], decisions: int, pg_url: str = DEFAULT_PG
               ) -> dict[str, float]:
    """A whole claim by one of 20 emulators, on a fresh database of `kind` holding `jobs` (any
    other target has queued work and no devices, so no held work)."""
    with tempfile.TemporaryDirectory(prefix="qgjob-claim-") as work, \
            database(kind, Path(work), pg_url) as url:
        return claim_latency(url, jobs, decisions)


def _stats(samples: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(samples), "p99_ms": percentile(samples, 99),
            "mean_ms": statistics.fmean(samples), "samples": len(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description="claim decision time with a big queue")
    parser.add_argument("--decisions", type=at_least(2), default=2000)
    parser.add_argument("--postgres", default=DEFAULT_PG, help="a PostgreSQL server URL")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "policy, 10,000 jobs in 500 groups": time_policy(args.decisions),
    }
    for queued in (1_000, 10_000):
        jobs = queue(queued, ("emulator",), seed=11, prefix="j", span=3600)
        results[f"SQLite claim, {queued:,} queued"] = time_store("sqlite", jobs,
                                                                 args.decisions // 2)
    stores = [("sqlite", "SQLite")]
    reason = unreachable(args.postgres)
    if reason is None:
        stores.append(("postgresql", "PostgreSQL"))
    else:
        print(f"{reason}: its rows are left out", file=sys.stderr)
    three_targets = {state: queue(10_000, TARGETS, seed=13, prefix="p", span=3000,
                                  last_submit_ago=ago)
                     for state, ago in (("flowing", 0.0), ("paused", PAUSED_SECONDS))}
    for kind, name in stores:
        for state, jobs in three_targets.items():
            results[f"{name} claim, 10,000 queued on 3 targets, submits {state}"] = \
                time_store(kind, jobs, args.decisions // 2, args.postgres)
    print("One claim decision (milliseconds)")
    print_table(["what", "median", "p99", "mean"],
                [[name, f"{r['median_ms']:.3f}", f"{r['p99_ms']:.3f}", f"{r['mean_ms']:.3f}"]
                 for name, r in results.items()])
    path = write_result("claim_decision", {
        "command": command_line("benchmarks.claim_decision"),
        "results": results})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
