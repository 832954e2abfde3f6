"""The best schedule we could find offline, to tell a policy's miss from a goal out of reach.
It knows what no online policy knows (every test's true length, every outcome, every arrival)
and searches, target by target (a device serves one target), schedules of one shape: each
device installs each of its builds once, runs its builds one after another in order of
arrival, and installs a build once its first job there has arrived.

- a handful of jobs on a target (at most `EXACT_JOBS`): every assignment of jobs to devices,
  so its figures are the best of that shape. For makespan with every job there from the start
  the shape loses little: any schedule can be regrouped so without finishing later, except
  one that runs a failed test's retries on other devices (here they follow on its device);
  a burst's submits spread over 5 s, so there it is the best to within those seconds. For
  turnaround under later arrivals (steady) another order of builds on a device, or a build
  run in two pieces, can do better: there the figures are schedules found, not a bound;
- more: a local search from the longest build first, splitting the busiest device's largest
  build onto the least busy device one install at a time and balancing after each split
  (moving and swapping tests between devices of the same build, moving whole builds). Each
  step gives a point of the target's frontier, installs against makespan. Its schedules exist,
  so they prove a goal reachable; where they miss, they prove nothing beyond the lower bound.

Every schedule is turned into events and judged by `qgjob.sim.metrics.summarize`, as the
policy's are. Failed attempts run back to back on the device of the job.

    python -m benchmarks.best_schedule [--kind burst] [--seeds 100] [--first 1]
                                       [--variant "a handful of jobs"] [--tools DIR]

With `--tools DIR` (the directory of the scheduling judge's tracegen.py, refsim.py,
schedcheck.py and sweep.py) the traces are the judge's and every schedule is scored by its
checker, baselines and goals, as `benchmarks.judged` scores the policy's.

Prints per kind the traces on which the search meets every goal it can speak to (burst:
makespan against the lower bound and FIFO-affinity's within twice the minimum installs;
steady with a handful of jobs: mean turnaround against FIFO's within half its installs), next
to qgjob's; writes benchmarks/results/best_schedule[-VARIANT][-judge].json.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from benchmarks.common import command_line, print_table, seed_count, write_result
from benchmarks.judged import scored_trace, tools_given, tools_option
from benchmarks.sweep import HANDFUL, VARIANTS
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.sim.engine import Simulator
from qgjob.sim.trace import Trace, TraceJob

EXACT_JOBS = 8
"""Up to this many jobs on a target, every assignment is tried."""
EXTRA_SPLITS = 3
"""The local search splits builds until the target has twice its builds' installs, and this
many more (a busy target may use installs another one saves)."""

Device = dict[str, list[TraceJob]]
"""One device's part of a schedule: its jobs, by build (each build installed once)."""


@dataclass(frozen=True)
class Point:
    """One schedule of a target's jobs."""
    installs: int
    makespan: float
    turnaround: float
    """Sum over the target's builds (per org and app) of finish minus first submit."""
    devices: tuple[tuple[tuple[str, tuple[TraceJob, ...]], ...], ...]


def work(job: TraceJob, trace: Trace) -> float:
    return job.duration * job.attempts_needed(trace.max_attempts)


def runs(device: Device) -> list[tuple[str, list[TraceJob]]]:
    """A device's builds in the order it runs them (first arrival, then name), each build's
    jobs in order of arrival."""
    order = sorted(device, key=lambda b: (min(j.submit_at for j in device[b]), b))
    return [(build, sorted(device[build], key=lambda j: (j.submit_at, j.job_id)))
            for build in order]


def timed(device: Device, trace: Trace, install: float) -> dict[str, float]:
    """When each job on this device ends: a build is installed once its first job there has
    arrived (a device installs what it has claimed), then its jobs run, each attempt back to
    back."""
    now, ends = 0.0, {}
    for _, jobs in runs(device):
        now = max(now, jobs[0].submit_at) + install
        for job in jobs:
            now = max(now, job.submit_at) + work(job, trace)
            ends[job.job_id] = now
    return ends


def point(devices: list[Device], trace: Trace, install: float) -> Point:
    """A schedule's figures, builds counted as the metrics count them: per org and app."""
    ends: dict[str, float] = {}
    for device in devices:
        ends.update(timed(device, trace, install))
    finish: dict[tuple[str, str], float] = {}
    submitted: dict[tuple[str, str], float] = {}
    for device in devices:
        for jobs in device.values():
            for job in jobs:
                key = (job.org_id, job.app_version_id)
                finish[key] = max(finish.get(key, 0.0), ends[job.job_id])
                submitted[key] = min(submitted.get(key, job.submit_at), job.submit_at)
    frozen = tuple(tuple((b, tuple(js)) for b, js in runs(d)) for d in devices)
    return Point(sum(len(d) for d in devices), max(finish.values(), default=0.0),
                 sum(finish[b] - submitted[b] for b in finish), frozen)


# every assignment -----------------------------------------------------------------------------

def exact_points(jobs: list[TraceJob], machines: int, trace: Trace, install: float
                 ) -> list[Point]:
    """Every assignment of jobs to devices (devices are alike: job i goes to a device already
    used or to the next new one)."""
    found: list[Point] = []

    def place(index: int, devices: list[Device]) -> None:
        if index == len(jobs):
            found.append(point([d for d in devices if d], trace, install))
            return
        job = jobs[index]
        used = sum(1 for d in devices if d)
        for slot in range(min(used + 1, machines)):
            devices[slot].setdefault(job.app_version_id, []).append(job)
            place(index + 1, devices)
            devices[slot][job.app_version_id].pop()
            if not devices[slot][job.app_version_id]:
                del devices[slot][job.app_version_id]

    place(0, [{} for _ in range(machines)])
    return found


# local search ---------------------------------------------------------------------------------

def load(device: Device, trace: Trace, install: float) -> float:
    return sum(install + sum(work(j, trace) for j in jobs) for jobs in device.values())


def searched_points(jobs: list[TraceJob], machines: int, trace: Trace, install: float
                    ) -> list[Point]:
    builds: dict[str, list[TraceJob]] = defaultdict(list)
    for job in jobs:
        builds[job.app_version_id].append(job)
    devices: list[Device] = [{} for _ in range(machines)]
    for build in sorted(builds, key=lambda b: -sum(work(j, trace) for j in builds[b])):
        target = min(devices, key=lambda d: load(d, trace, install))
        target.setdefault(build, []).extend(builds[build])
    balance(devices, trace, install)
    points = [point(devices, trace, install)]
    limit = 2 * len(builds) + EXTRA_SPLITS
    while points[-1].installs < limit and split(devices, trace, install):
        balance(devices, trace, install)
        points.append(point(devices, trace, install))
    return points


def split(devices: list[Device], trace: Trace, install: float) -> bool:
    """Move part of the busiest device's largest build onto the least busy device without it
    (one more install) when that shortens the busiest device."""
    loads = [load(d, trace, install) for d in devices]
    busiest = max(range(len(devices)), key=lambda i: loads[i])
    for build in sorted(devices[busiest],
                        key=lambda b: -sum(work(j, trace) for j in devices[busiest][b])):
        others = [i for i in range(len(devices)) if i != busiest and build not in devices[i]]
        if not others or len(devices[busiest][build]) < 2:
            continue
        least = min(others, key=lambda i: loads[i])
        moved: list[TraceJob] = []
        high, low = loads[busiest], loads[least] + install
        for job in sorted(devices[busiest][build], key=lambda j: -work(j, trace)):
            w = work(job, trace)
            if len(moved) + 1 < len(devices[busiest][build]) and max(high - w, low + w) < high:
                moved.append(job)
                high, low = high - w, low + w
        if moved and max(high, low) < loads[busiest]:
            for job in moved:
                devices[busiest][build].remove(job)
            devices[least][build] = moved
            return True
    return False


def balance(devices: list[Device], trace: Trace, install: float) -> None:
    """Lower the busiest device while any move does: a test to another device of its build,
    a swap of two tests of one build, a whole build to another device."""
    while True:
        loads = [load(d, trace, install) for d in devices]
        busiest = max(range(len(devices)), key=lambda i: loads[i])
        top = loads[busiest]
        best: tuple[float, Any] | None = None
        for build, jobs in devices[busiest].items():
            size = sum(work(j, trace) for j in jobs)
            for other in range(len(devices)):
                if other == busiest:
                    continue
                theirs = devices[other].get(build)
                whole = loads[other] + size + (0.0 if theirs is not None else install)
                if whole < top and (best is None or whole < best[0]):
                    best = (whole, ("build", build, other))
                if theirs is None:
                    continue
                for job in jobs:
                    w = work(job, trace)
                    if len(jobs) > 1:
                        after = max(top - w, loads[other] + w)
                        if after < top and (best is None or after < best[0]):
                            best = (after, ("move", build, other, job))
                    for their in theirs:
                        d = w - work(their, trace)
                        after = max(top - d, loads[other] + d)
                        if d > 0 and after < top and (best is None or after < best[0]):
                            best = (after, ("swap", build, other, job, their))
        if best is None:
            return
        what = best[1]
        if what[0] == "build":
            _, build, other = what
            devices[other].setdefault(build, []).extend(devices[busiest].pop(build))
        elif what[0] == "move":
            _, build, other, job = what
            devices[busiest][build].remove(job)
            devices[other][build].append(job)
        else:
            _, build, other, job, their = what
            devices[busiest][build].remove(job)
            devices[other][build].remove(their)
            devices[busiest][build].append(their)
            devices[other][build].append(job)


# a whole trace --------------------------------------------------------------------------------

def frontiers(trace: Trace) -> dict[str, list[Point]]:
    """Per target, its schedules found: installs against makespan and turnaround."""
    out = {}
    for target in sorted({d.target for d in trace.devices}):
        jobs = [j for j in trace.jobs if j.target == target]
        if not jobs:
            continue
        machines = sum(1 for d in trace.devices if d.target == target)
        install = trace.install_seconds[target]
        finder = exact_points if len(jobs) <= EXACT_JOBS else searched_points
        out[target] = finder(jobs, machines, trace, install)
    return out


def best_within(found: dict[str, list[Point]], installs: int, objective: str
                ) -> list[Point] | None:
    """One point per target, at most `installs` installs in all: the lowest makespan over
    the targets, or the lowest summed turnaround."""
    best: dict[int, tuple[float, list[Point]]] = {0: (0.0, [])}
    for points in found.values():
        step: dict[int, tuple[float, list[Point]]] = {}
        for used, (value, chosen) in best.items():
            for p in points:
                total = used + p.installs
                if total > installs:
                    continue
                score = max(value, p.makespan) if objective == "makespan" \
                    else value + p.turnaround
                if total not in step or score < step[total][0]:
                    step[total] = (score, [*chosen, p])
        best = step
    if not best:
        return None
    return min(best.values(), key=lambda pair: pair[0])[1]


def events_of(trace: Trace, chosen: list[Point]) -> list[dict[str, Any]]:
    """The chosen schedules as the simulator's events (for `summarize`)."""
    events: list[dict[str, Any]] = []
    by_target: dict[str, list[str]] = defaultdict(list)
    for trace_device in trace.devices:
        by_target[trace_device.target].append(trace_device.device_id)
    for p in chosen:
        for n, device in enumerate(p.devices):
            jobs = [j for _, js in device for j in js]
            if not jobs:
                continue
            target = jobs[0].target
            name = by_target[target][n]
            install = trace.install_seconds[target]
            now = 0.0
            for build, js in device:  # in the order `runs` gave, as `timed` priced it
                now = max(now, js[0].submit_at)
                events.append({"device": name, "kind": "install", "app_version_id": build,
                               "target": target, "start": now, "end": now + install})
                now += install
                for job in js:
                    now = max(now, job.submit_at)
                    for attempt in range(1, job.attempts_needed(trace.max_attempts) + 1):
                        events.append({"device": name, "kind": "test", "job_id": job.job_id,
                                       "attempt": attempt, "start": now,
                                       "end": now + job.duration,
                                       "outcome": job.outcome(attempt)})
                        now += job.duration
    return events


def judged(args: tuple[str, int, str | None, str | None]) -> dict[str, Any]:
    kind, seed, variant, tools = args
    trace, scored, fifo_installs, _ = scored_trace(kind, seed, [variant] if variant else [],
                                                   tools)
    ours_events = Simulator(trace, FairAffinityPolicy()).run().events
    min_installs = len({(job.app_version_id, job.target) for job in trace.jobs})
    found = frontiers(trace)
    if kind == "steady":  # its P5 goal is left out: a handful of jobs is a build or two
        budget, objective, kept = int(0.5 * fifo_installs), "turnaround", 2
    else:
        budget, objective, kept = 2 * min_installs, "makespan", None

    def checks(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
        return scored(events, name)[:kept]

    chosen = best_within(found, budget, objective)
    return {"kind": kind, "seed": seed, "variant": variant,
            "exact": all(len([j for j in trace.jobs if j.target == t]) <= EXACT_JOBS
                         for t in found),
            "best": None if chosen is None
            else checks(events_of(trace, chosen), "offline"),
            "qgjob": checks(ours_events, "qgjob")}


def main() -> None:
    parser = argparse.ArgumentParser(description="the best schedule found offline")
    parser.add_argument("--kind", default="burst", choices=("burst", "steady"))
    parser.add_argument("--seeds", type=seed_count, default=100)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--variant", default=None, choices=sorted(VARIANTS),
                        help="a fleet unlike the usual one, or every attempt passing "
                             "(benchmarks.sweep's VARIANTS)")
    tools_option(parser)
    args = parser.parse_args()
    tools = tools_given(parser, args.tools)
    if args.kind == "steady" and args.variant != HANDFUL:
        parser.error("steady is searched with --variant 'a handful of jobs' only (its "
                     "arrivals make a long trace an online problem)")
    seeds = range(args.first, args.first + args.seeds)
    with multiprocessing.Pool() as pool:
        rows = pool.map(judged, [(args.kind, s, args.variant, tools) for s in seeds],
                        chunksize=1)
    table = []
    names = [c["goal"] for c in rows[0]["qgjob"]]
    for who in ("best", "qgjob"):
        scored = [r[who] for r in rows if r[who] is not None]
        met = sum(all(c["met"] for c in checks) for checks in scored)
        cells = []
        for index in range(len(names)):
            values = [checks[index]["value"] for checks in scored]
            cells.append(f"{statistics.median(values):.3f} "
                         f"({sum(c[index]['met'] for c in scored)} met)")
        table.append([who if who == "qgjob" else "offline search", f"{met}/{len(rows)}", *cells])
    exact = sum(r["exact"] for r in rows)
    print(f"{args.kind}{' / ' + args.variant if args.variant else ''}: seeds {seeds.start}-"
          f"{seeds.stop - 1} ({exact} searched exhaustively)")
    print_table(["schedule", "meets every goal", *(f"{n}: median" for n in names)], table)
    suffix = ("" if args.variant is None else "-" + args.variant.replace(" ", "-")) + \
        ("" if tools is None else "-judge")
    path = write_result(f"best_schedule-{args.kind}{suffix}", {
        "command": command_line("benchmarks.best_schedule"),
        "rows": rows})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
