"""What a schedule that does not know test lengths can reach on a handful of jobs: the
other half of `benchmarks.best_schedule`, which knows every length.

A handful of jobs (`benchmarks.sweep.HANDFUL`, scored with burst's goals: makespan within
1.08 x the bound and no later than FIFO-affinity's, at most twice the minimum installs) pits
the installs goal against the makespan: FIFO-affinity puts every job on its own idle device,
and a schedule with fewer installs ends as soon only if the jobs that share a device are short
beside the longest. Which ones are short, nothing online knows before they run.

For each trace, every split of devices between its builds within twice the minimum installs
(at most a build's jobs, at most its target's devices; a trace with more builds than devices
on a target is left out) is tried; in each, a build's jobs go
in an order that knows nothing of their lengths -- `--orders` random orders, the same for
every split -- each to whichever of the build's devices frees first (a device installs when it
takes its first job; a failed test's attempts run back to back on its device), and the share
of orders meeting every goal is the split's chance. Printed per set of traces:

- the best split per trace: the split chosen knowing the trace's lengths but not which job has
  which -- more than any online policy knows, so its sum is an upper bound for splits made
  blind (a policy that adds devices after seeing tests end is not covered);
- the most jobs a device: each device beyond one a build goes to the build with the most jobs
  per device, a rule any policy can follow (it needs only the job counts);
- qgjob, as it schedules the trace.

    python -m benchmarks.blind_split [--seeds 30] [--first 1] [--variant NAME] [--orders 120]
                                     [--tools DIR]

With `--tools DIR` (the directory of the scheduling judge's tracegen.py, refsim.py,
schedcheck.py and sweep.py) the traces are the judge's and every schedule is scored by its
checker, baselines and goals. Writes benchmarks/results/blind_split[-VARIANT][-judge].json.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import random
from typing import Any

from benchmarks.common import command_line, print_table, seed_count, write_result
from benchmarks.judged import scored_trace, tools_given, tools_option
from benchmarks.sweep import HANDFUL, VARIANTS
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.sim.engine import Simulator
from qgjob.sim.trace import Trace, TraceJob

Build = tuple[str, str]
"""(app, target): what one install serves."""
Split = dict[Build, int]
"""Devices per build."""
Orders = dict[Build, list[TraceJob]]
"""Each build's jobs in the order they are handed out."""


def builds_of(trace: Trace) -> dict[Build, list[TraceJob]]:
    """The trace's jobs by build, each build's in order of arrival."""
    builds: dict[Build, list[TraceJob]] = {}
    for job in sorted(trace.jobs, key=lambda j: (j.submit_at, j.job_id)):
        builds.setdefault((job.app_version_id, job.target), []).append(job)
    return builds


def devices_of(trace: Trace) -> dict[str, int]:
    """How many devices each target has."""
    devices: dict[str, int] = {}
    for device in trace.devices:
        devices[device.target] = devices.get(device.target, 0) + 1
    return devices


def events_of(trace: Trace, split: Split, orders: Orders) -> list[dict[str, Any]]:
    """The schedule as the simulator's events: each job to whichever of its build's devices
    frees first (a device not yet used is free at once and installs on taking its first job),
    its attempts back to back."""
    names: dict[str, list[str]] = {}
    for device in trace.devices:
        names.setdefault(device.target, []).append(device.device_id)
    used = dict.fromkeys(names, 0)
    events: list[dict[str, Any]] = []
    for (app, target), jobs in sorted(orders.items()):
        install = trace.install_seconds[target]
        free: list[tuple[float, str, bool]] = []  # (free at, device, installed)
        for _ in range(split[(app, target)]):
            free.append((-1.0, names[target][used[target]], False))
            used[target] += 1
        for job in jobs:
            at, name, installed = min(free)
            free.remove((at, name, installed))
            now = max(at, job.submit_at)
            if not installed:
                events.append({"device": name, "kind": "install", "app_version_id": app,
                               "target": target, "start": now, "end": now + install})
                now += install
            for attempt in range(1, job.attempts_needed(trace.max_attempts) + 1):
                events.append({"device": name, "kind": "test", "job_id": job.job_id,
                               "attempt": attempt, "start": now, "end": now + job.duration,
                               "outcome": job.outcome(attempt)})
                now += job.duration
            free.append((now, name, True))
    return events


def splits(builds: dict[Build, list[TraceJob]], devices: dict[str, int]) -> list[Split]:
    """Every split within twice the minimum installs: a device a build at least, at most its
    jobs, at most its target's devices."""
    keys = sorted(builds)
    found = []
    for counts in itertools.product(*(range(1, len(builds[k]) + 1) for k in keys)):
        if sum(counts) > 2 * len(keys):
            continue
        per_target: dict[str, int] = {}
        for (_, target), n in zip(keys, counts, strict=True):
            per_target[target] = per_target.get(target, 0) + n
        if all(n <= devices.get(target, 0) for target, n in per_target.items()):
            found.append(dict(zip(keys, counts, strict=True)))
    return found


def most_jobs_a_device(builds: dict[Build, list[TraceJob]], devices: dict[str, int]) -> Split:
    """A device a build, then each device the budget (twice the builds) has left to the build
    with the most jobs per device, while its target has one."""
    split = dict.fromkeys(builds, 1)
    left = {target: n - sum(1 for _, t in builds if t == target) for target, n in devices.items()}
    for _ in range(len(builds)):
        open_ = [b for b in builds if split[b] < len(builds[b]) and left[b[1]] > 0]
        if not open_:
            break
        chosen = max(open_, key=lambda b: (len(builds[b]) / split[b], len(builds[b]), b))
        split[chosen] += 1
        left[chosen[1]] -= 1
    return split


def judged(args: tuple[int, str | None, int, str | None]) -> dict[str, Any]:
    seed, variant, orders, tools = args
    variants = [HANDFUL] + ([variant] if variant else [])
    trace, checks, _, _ = scored_trace("burst", seed, variants, tools)

    def score(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return checks(events, "blind")

    builds, devices = builds_of(trace), devices_of(trace)
    if any(sum(1 for _, t in builds if t == target) > n for target, n in devices.items()):
        return {"seed": seed, "variant": variant, "covered": False}
    rng = random.Random(seed)
    shuffled = [{b: rng.sample(jobs, len(jobs)) for b, jobs in builds.items()}
                for _ in range(orders)]

    def chance(split: Split) -> float:
        met = sum(all(goal["met"] for goal in score(events_of(trace, split, order)))
                  for order in shuffled)
        return met / orders

    chances = [chance(split) for split in splits(builds, devices)]
    ours = score(Simulator(trace, FairAffinityPolicy()).run().events)
    return {"seed": seed, "variant": variant, "covered": True,
            "jobs_per_build": [len(builds[b]) for b in sorted(builds)],
            "best_split": max(chances, default=0.0),
            "most_jobs_a_device": chance(most_jobs_a_device(builds, devices)),
            "qgjob": ours, "qgjob_met": all(goal["met"] for goal in ours)}


def main() -> None:
    parser = argparse.ArgumentParser(description="what splits made blind reach on a handful")
    parser.add_argument("--seeds", type=seed_count, default=30)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--variant", default=None,
                        choices=sorted(v for v in VARIANTS if v != HANDFUL),
                        help="a fleet unlike the usual one as well (benchmarks.sweep's VARIANTS)")
    parser.add_argument("--orders", type=seed_count, default=120,
                        help="random orders of each build's jobs tried per split")
    tools_option(parser)
    args = parser.parse_args()
    tools = tools_given(parser, args.tools)
    seeds = range(args.first, args.first + args.seeds)
    with multiprocessing.Pool() as pool:
        rows = pool.map(judged, [(s, args.variant, args.orders, tools) for s in seeds],
                        chunksize=1)
    left_out = len(rows)
    rows = [r for r in rows if r["covered"]]
    n, left_out = len(rows), left_out - len(rows)
    print(f"burst / {HANDFUL}{' / ' + args.variant if args.variant else ''}: seeds "
          f"{seeds.start}-{seeds.stop - 1}, {args.orders} orders a split"
          + (f"; {left_out} left out (more builds than devices on a target)" if left_out else ""))
    print_table(["schedule", "traces meeting every goal (expected)"], [
        ["best split per trace, lengths unknown", f"{sum(r['best_split'] for r in rows):.1f}/{n}"],
        ["most jobs a device", f"{sum(r['most_jobs_a_device'] for r in rows):.1f}/{n}"],
        ["qgjob", f"{sum(r['qgjob_met'] for r in rows)}/{n}"]])
    suffix = ("" if args.variant is None else "-" + args.variant.replace(" ", "-")) + \
        ("" if tools is None else "-judge")
    path = write_result(f"blind_split{suffix}", {
        "command": command_line("benchmarks.blind_split"), "first": args.first,
        "seeds": args.seeds, "orders": args.orders, "left_out": left_out, "rows": rows})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
