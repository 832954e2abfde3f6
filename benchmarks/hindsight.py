"""A planner that sees a whole stream, to tell how far steady's goals are from reach, and what
reaching them costs a burst.

`benchmarks.best_schedule` searches exhaustively, so it speaks only to a handful of jobs. A
steady trace is two hours of arrivals; for it this module lists the schedule of one simple
rule, with or without hindsight:

- a device keeps its build while the build has queued jobs, and runs them longest first;
- otherwise it takes, of its target's builds with queued work and fewer devices than their
  cap, an urgent (priority 5) build first, then the one with the least work left (shortest
  remaining first between builds, whether anyone serves them yet or not); with no such build
  it idles;
- a build's cap is `round(sqrt(left / cap_seconds))` devices, `left` its queued work and the
  rest of its running tests: the split that minimises the summed finish times of builds for
  a price of `cap_seconds` of turnaround per install (an urgent build's cap is the target's
  every device);
- a failed attempt is queued again at once (no backoff).

With hindsight it knows each test's true length and how many attempts it needs, and the cap
price is chosen per trace from `CAP_SECONDS` (the best of them against the goals): what no
online policy can do. Where it meets the goals, they are within reach; where it misses, it
proves nothing (it is one rule, not a search). Without hindsight it learns lengths from
finished attempts with the server's model (`qgjob.scheduler.durations.DurationModel`: a test's
mean per target, a test new to a target priced with its time on the org's other targets, one
never run anywhere with the target's mean so far), asked afresh at every decision where the
server prices a queued job at submit and re-prices it only when its estimate moves by more
than a quarter; and it uses one price for every trace. Between the two, `Foresight` gives it
one of the two ahead: true lengths without knowing which attempts fail, or which attempts
fail with learned lengths, so a gap between hindsight and learning can be put down to one or
the other. True lengths without foreseen failures are tried at every price as well, the best
per trace kept, and so are learned lengths: failures are drawn per job and a run's length
varies about its test's, so the last is what this rule does with what a server knows,
granted only the price in hindsight. Beside it, qgjob's own policy at each of
`QGJOB_PRICES` in place of its budget's price (`PricedPolicy`), the best per trace kept: what
choosing the price per trace would give the policy itself.

    python -m benchmarks.hindsight [--kind steady] [--seeds 100] [--first 1]
                                   [--variant NAME] [--tools DIR]

`--variant` runs it on a fleet unlike the usual one (`benchmarks.sweep`'s: other install
times, test lengths, fleet sizes); `--tools` on the scheduling judge's traces, each schedule
scored with the judge's own checker, baselines and goals (`benchmarks.judged.JudgeScore`),
given the directory of its tools.

On steady traces, whose install goal is a budget (half FIFO's installs), two more figures:
the planner with each build's cap chosen from that budget with hindsight (`budget_caps`: every
build one device, then each further device where it shortens a build's span most), and a lower
bound on the mean build turnaround of any schedule within the budget (`turnaround_bound`; it
leaves out builds competing for devices, so it says where a goal is out of reach, never that it
is within reach).

Prints, per row, the traces on which the rule meets every goal of the kind, beside qgjob's,
and writes benchmarks/results/hindsight-KIND.json (named after what a run varies otherwise:
`result_name`).
"""

from __future__ import annotations

import argparse
import heapq
import math
import multiprocessing
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import command_line, print_table, seed_count, write_result
from benchmarks.goals import STEADY_INSTALL_SHARE
from benchmarks.judged import (
    DEFAULT_SEEDS,
    scored_trace,
    tools_given,
    tools_option,
    varied_parts,
)
from benchmarks.sweep import VARIANTS
from qgjob.scheduler.durations import DurationModel
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.scheduler.views import ClaimContext
from qgjob.sim.engine import Simulator
from qgjob.sim.trace import Trace, TraceJob

CAP_SECONDS = (20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 85.0, 100.0, 120.0, 150.0, 200.0)
"""Prices of an install, in seconds of turnaround, that hindsight chooses from per trace."""
ONE_PRICE = 100.0
"""The price for every trace, in the rows without a choice per trace: the median of the prices
hindsight chose on this generator's steady seeds 1-100."""
QGJOB_PRICES = (45.0, 65.0, 90.0, 130.0, 190.0)
"""Prices of an install at which qgjob's policy runs in place of its budget's
(`PricedPolicy`), the best of them per trace kept: how much a price chosen per trace would
lift the policy itself."""
BUDGET_ROW = "hindsight, devices per build from half FIFO's installs"
Build = tuple[str, str, str]
"""Org, app and target: a build as the goals count builds."""


@dataclass(frozen=True)
class Foresight:
    """What the planner knows ahead of each attempt: the test's true length (else it learns
    lengths as the server does), and how many attempts the job needs (else it expects each
    queued attempt to be the last, as the server does)."""
    lengths: bool
    failures: bool


HINDSIGHT = Foresight(lengths=True, failures=True)
ONLINE = Foresight(lengths=False, failures=False)
LENGTHS_ONLY = Foresight(lengths=True, failures=False)
FAILURES_ONLY = Foresight(lengths=False, failures=True)


@dataclass(frozen=True)
class PricedPolicy(FairAffinityPolicy):
    """qgjob's policy with an install's price in a stream fixed at `price` seconds of
    turnaround, where the policy sets it from its install budget
    (`FairAffinityPolicy.install_price`): everything else as the server decides."""
    price: float = ONE_PRICE

    def install_price(self, ctx: ClaimContext) -> float:
        return self.price


@dataclass
class Stream:
    """The planner's view of a trace as it unfolds."""
    trace: Trace
    foresight: Foresight
    queued: dict[Build, list[TraceJob]] = field(default_factory=lambda: defaultdict(list))
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lengths: DurationModel = field(default_factory=DurationModel)

    def expected(self, job: TraceJob) -> float:
        """What the planner takes the job's remaining attempts to need."""
        length = job.duration if self.foresight.lengths \
            else self.lengths.estimate((job.org_id, job.test_path, job.target))
        if not self.foresight.failures:
            return length
        return length * (job.attempts_needed(self.trace.max_attempts) - self.attempts[job.job_id])

    def finished(self, job: TraceJob) -> None:
        """An attempt ended: learn its length (the only lengths known unless they are
        foreseen)."""
        self.lengths.observe((job.org_id, job.test_path, job.target), job.duration)


@dataclass
class Device:
    name: str
    target: str
    build: Build | None = None
    job: TraceJob | None = None
    started: float = 0.0
    expected: float = 0.0


def build_of(job: TraceJob) -> Build:
    return (job.org_id, job.app_version_id, job.target)


def plan(trace: Trace, cap_seconds: float, foresight: Foresight,
         caps: Mapping[Build, int] | None = None) -> list[dict[str, Any]]:
    """The rule's schedule of the whole trace, as the simulator's events. With `caps`, each
    build's cap is given (`budget_caps`) rather than priced at `cap_seconds` an install."""
    stream = Stream(trace, foresight)
    devices = [Device(d.device_id, d.target) for d in trace.devices]
    on_target = Counter(d.target for d in trace.devices)
    urgent = {build_of(j) for j in trace.jobs if j.priority >= FairAffinityPolicy.urgent_priority}
    arrivals = sorted(trace.jobs, key=lambda j: (j.submit_at, j.job_id))
    timeline: list[tuple[float, int, str]] = [(j.submit_at, i, "") for i, j in enumerate(arrivals)]
    heapq.heapify(timeline)
    events: list[dict[str, Any]] = []
    by_name = {d.name: d for d in devices}
    order = len(arrivals)
    while timeline:
        now, index, name = heapq.heappop(timeline)
        if not name:
            job = arrivals[index]
            stream.queued[build_of(job)].append(job)
        else:
            _ended(by_name[name], stream)
        # Devices whose build still has queued jobs go first: they keep it.
        for device in sorted(devices, key=lambda d: d.build not in stream.queued):
            if device.job is not None:
                continue
            ends = _start(device, devices, stream, urgent, on_target, cap_seconds, caps,
                          events, now)
            if ends is not None:
                order += 1
                heapq.heappush(timeline, (ends, order, device.name))
    return events


def _ended(device: Device, stream: Stream) -> None:
    """The device's attempt is over: a failure with attempts left is queued again at once."""
    job = device.job
    assert job is not None
    stream.attempts[job.job_id] += 1
    stream.finished(job)
    if job.outcome(stream.attempts[job.job_id]) != "pass" \
            and stream.attempts[job.job_id] < stream.trace.max_attempts:
        stream.queued[build_of(job)].append(job)
    device.job = None


def _left(build: Build, devices: list[Device], stream: Stream, now: float) -> float:
    """The build's queued work and the expected rest of its running tests."""
    running = sum(max(d.expected - (now - d.started), 0.0) for d in devices
                  if d.job is not None and d.build == build)
    return sum(stream.expected(j) for j in stream.queued[build]) + running


def _choose(device: Device, devices: list[Device], stream: Stream, urgent: set[Build],
            fleet: int, cap_seconds: float, caps: Mapping[Build, int] | None,
            now: float) -> Build | None:
    """The build the device works on next: its own while it has queued jobs; else, of the
    builds below their cap, an urgent one first, then the one with the least work left."""
    builds = [b for b, jobs in stream.queued.items() if jobs and b[2] == device.target]
    if device.build in builds:
        return device.build
    serving = Counter(d.build for d in devices if d.build is not None and d is not device)
    left = {b: _left(b, devices, stream, now) for b in builds}

    def cap(b: Build) -> int:
        if caps is not None:
            return caps[b]
        if b in urgent:
            return fleet
        return max(1, min(fleet, round(math.sqrt(left[b] / cap_seconds))))

    open_builds = [b for b in builds if serving[b] < cap(b)]
    return min(open_builds, key=lambda b: (b not in urgent, left[b], b), default=None)


def _start(device: Device, devices: list[Device], stream: Stream, urgent: set[Build],
           on_target: Counter[str], cap_seconds: float, caps: Mapping[Build, int] | None,
           events: list[dict[str, Any]], now: float) -> float | None:
    """Start the device's next test, installing first when it changes builds; when it ends."""
    chosen = _choose(device, devices, stream, urgent, on_target[device.target], cap_seconds,
                     caps, now)
    if chosen is None:
        return None
    start = now
    # Another org's build of the app the device holds needs no install.
    if device.build is None or device.build[1:] != chosen[1:]:
        install = stream.trace.install_seconds[device.target]
        events.append({"device": device.name, "kind": "install", "app_version_id": chosen[1],
                       "target": device.target, "start": now, "end": now + install})
        start += install
    device.build = chosen
    queue = stream.queued[chosen]
    job = max(queue, key=lambda j: (stream.expected(j), -j.submit_at, j.job_id))
    queue.remove(job)
    if not queue:
        del stream.queued[chosen]
    attempt = stream.attempts[job.job_id] + 1
    events.append({"device": device.name, "kind": "test", "job_id": job.job_id,
                   "attempt": attempt, "start": start, "end": start + job.duration,
                   "outcome": job.outcome(attempt)})
    device.job, device.started, device.expected = job, start, stream.expected(job)
    return start + job.duration


@dataclass(frozen=True)
class BuildWork:
    """What one build asks of any schedule, with hindsight: its jobs, its test time (every
    attempt it needs) and how long after its first submit its longest chain of attempts ends
    at the soonest (a job's attempts run one after another, from its own submit)."""
    jobs: int
    work: float
    chain: float

    def span(self, install: float, devices: int) -> float:
        """The least time from its first submit to its last finish on `devices` devices, an
        install first on each, were nothing else in the way."""
        return install + max(self.chain, self.work / devices)


def build_work(trace: Trace) -> dict[Build, BuildWork]:
    """Every build's `BuildWork`, from the trace's true lengths and outcomes."""
    first: dict[Build, float] = {}
    for job in trace.jobs:
        first[build_of(job)] = min(first.get(build_of(job), job.submit_at), job.submit_at)
    work: dict[Build, float] = defaultdict(float)
    chain: dict[Build, float] = defaultdict(float)
    count: Counter[Build] = Counter()
    for job in trace.jobs:
        b = build_of(job)
        attempts = job.duration * job.attempts_needed(trace.max_attempts)
        work[b] += attempts
        chain[b] = max(chain[b], job.submit_at - first[b] + attempts)
        count[b] += 1
    return {b: BuildWork(count[b], work[b], chain[b]) for b in work}


def budget_caps(trace: Trace, installs: int) -> dict[Build, int] | None:
    """Devices per build that minimise the builds' summed spans (`BuildWork.span`) within
    `installs` installs, with hindsight: each build one device, then each further device to
    the build whose span it shortens most, while the budget lasts. None when the budget is
    less than one install a build. Every build of the trace must be an app of its own on its
    target (as in steady traces), so that each device it runs on installs it once."""
    return _allocate(trace, build_work(trace), installs)


def _allocate(trace: Trace, builds: Mapping[Build, BuildWork], installs: int
              ) -> dict[Build, int] | None:
    if installs < len(builds):
        return None
    fleet = Counter(d.target for d in trace.devices)
    caps = {b: 1 for b in builds}

    def most(b: Build) -> int:
        """More devices than jobs, or than the target has, shorten nothing."""
        return min(builds[b].jobs, fleet[b[2]])

    def gain(b: Build) -> float:
        work, install = builds[b], trace.install_seconds[b[2]]
        return work.span(install, caps[b]) - work.span(install, caps[b] + 1)

    heap = [(-gain(b), b) for b in builds if most(b) > 1]
    heapq.heapify(heap)
    left = installs - len(builds)
    while left > 0 and heap:
        negative, b = heapq.heappop(heap)
        if negative >= 0:
            break
        caps[b] += 1
        left -= 1
        if caps[b] < most(b):
            heapq.heappush(heap, (-gain(b), b))
    return caps


def turnaround_bound(trace: Trace, installs: int) -> float:
    """A lower bound on the mean build turnaround of any schedule that spends at most
    `installs` installs and installs an app only once it is submitted: each build's
    turnaround is at least its span on the devices it runs on (`BuildWork.span`; every device a
    build runs on installs it once, so the devices of all builds add up to the installs at
    most, when each build is an app of its own on its target), and `budget_caps` gives the
    least sum of spans. Contention between builds is left out, so the bound is loose where
    builds overlap. Infinite when the budget is less than one install a build."""
    builds = build_work(trace)
    caps = _allocate(trace, builds, installs)
    if caps is None:
        return math.inf
    return statistics.fmean(builds[b].span(trace.install_seconds[b[2]], caps[b])
                            for b in builds)


def judged(args: tuple[str, int, tuple[str, ...], str | None]) -> dict[str, Any]:
    kind, seed, variants, tools = args
    trace, checks, fifo_installs, fifo_turnaround = scored_trace(kind, seed, variants, tools)

    def at_every_price(foresight: Foresight, name: str) -> dict[float, list[dict[str, Any]]]:
        return {price: checks(plan(trace, price, foresight), name) for price in CAP_SECONDS}
    per_price = at_every_price(HINDSIGHT, "hindsight")
    best = best_price(per_price)
    # Failures are drawn per job and lengths vary run to run: nothing online foresees them.
    # What this rule does without that foresight, granted the price chosen per trace.
    unforeseen = at_every_price(LENGTHS_ONLY, "lengths")
    learned = at_every_price(ONLINE, "online")
    # The policy itself at one price per trace, against its budget's price: is the price
    # what it lacks?
    priced = {price: checks(Simulator(trace, PricedPolicy(price=price)).run().events, "priced")
              for price in QGJOB_PRICES}
    budgeted: dict[str, list[dict[str, Any]]] = {}
    bound = None
    if kind == "steady":
        # Steady's install goal is a budget: half FIFO's installs.
        budget = math.floor(STEADY_INSTALL_SHARE * fifo_installs + 1e-9)
        caps = budget_caps(trace, budget)
        if caps is not None:
            budgeted[BUDGET_ROW] = checks(plan(trace, ONE_PRICE, HINDSIGHT, caps), "budget")
            bound = round(turnaround_bound(trace, budget) / fifo_turnaround, 4)
    return {"kind": kind, "seed": seed, "best_price": best, "turnaround_bound": bound,
            "rows": {"hindsight, price per trace": per_price[best], **budgeted,
                     "true lengths, failures unforeseen, price per trace":
                         unforeseen[best_price(unforeseen)],
                     "learned lengths, price per trace": learned[best_price(learned)],
                     f"hindsight, {ONE_PRICE:.0f} s for all": per_price[ONE_PRICE],
                     f"true lengths, failures unforeseen, {ONE_PRICE:.0f} s for all":
                         unforeseen[ONE_PRICE],
                     f"learned lengths, failures foreseen, {ONE_PRICE:.0f} s for all":
                         checks(plan(trace, ONE_PRICE, FAILURES_ONLY), "failures"),
                     f"learned lengths, {ONE_PRICE:.0f} s for all": learned[ONE_PRICE],
                     "qgjob, its price per trace (best of five)":
                         priced[best_price(priced)],
                     "qgjob": checks(Simulator(trace, FairAffinityPolicy()).run().events,
                                     "qgjob")}}


def best_price(per_price: Mapping[float, list[dict[str, Any]]]) -> float:
    """The price whose schedule meets every goal with the most room (else misses least)."""
    return max(per_price, key=lambda p: (all(c["met"] for c in per_price[p]),
                                         -max(c["value"] / c["limit"] for c in per_price[p])))


def result_name(kind: str, first: int, seeds: int, variants: Sequence[str],
                judge: bool) -> str:
    """hindsight-KIND for the default run (this repository's generator, seeds 1-100, the
    usual fleet); after that what a run varies: hindsight-steady-judge-9000-tests-x0.25."""
    varies = varied_parts(seeds, variants)
    if not judge and first == 1 and not varies:
        return f"hindsight-{kind}"
    return "-".join([f"hindsight-{kind}", *(["judge"] if judge else []), str(first), *varies])


def main() -> None:
    parser = argparse.ArgumentParser(description="a planner that sees the whole stream")
    parser.add_argument("--kind", default="steady", choices=("steady", "burst"))
    parser.add_argument("--seeds", type=seed_count, default=DEFAULT_SEEDS)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--variant", action="append", default=[], choices=sorted(VARIANTS),
                        help="a fleet unlike the usual one, or every attempt passing "
                             "(benchmarks.sweep's VARIANTS)")
    tools_option(parser)
    args = parser.parse_args()
    tools = tools_given(parser, args.tools)
    seeds = range(args.first, args.first + args.seeds)
    with multiprocessing.Pool() as pool:
        results = pool.map(judged, [(args.kind, s, tuple(args.variant), tools) for s in seeds],
                           chunksize=1)
    names = [c["goal"] for c in results[0]["rows"]["qgjob"]]
    table = []
    for row in results[0]["rows"]:
        # A row a trace lacks (no budget of one install a build) meets nothing there.
        scored = [r["rows"][row] for r in results if row in r["rows"]]
        cells = [f"{statistics.median(c[i]['value'] for c in scored):.3f} "
                 f"({sum(c[i]['met'] for c in scored)} met)" for i in range(len(names))]
        met = sum(all(c["met"] for c in checks) for checks in scored)
        table.append([row, f"{met}/{len(results)}", *cells])
    print(f"{args.kind}: seeds {seeds.start}-{seeds.stop - 1}"
          + "".join(f", {variant}" for variant in args.variant)
          + (" (the judge's generator, baselines and goals)" if tools else ""))
    print_table(["schedule", "meets every goal", *(f"{n}: median" for n in names)], table)
    prices = statistics.median(r["best_price"] for r in results)
    print(f"\nthe price hindsight chose: median {prices:.0f} s")
    bounds = [r["turnaround_bound"] for r in results if r["turnaround_bound"] is not None]
    if bounds:
        print(f"lower bound on mean build turnaround at half FIFO's installs (any schedule, "
              f"contention left out): median {statistics.median(bounds):.3f} x FIFO's, "
              f"worst {max(bounds):.3f}; above 1 (out of reach) on "
              f"{sum(b > 1.0 for b in bounds)} of {len(bounds)} traces")
    path = write_result(result_name(args.kind, args.first, args.seeds, args.variant,
                                    tools is not None), {
        "command": command_line("benchmarks.hindsight"),
        "variants": args.variant,
        "goals": names,
        "traces": [{"seed": r["seed"], "best_price": r["best_price"],
                    "turnaround_bound": r["turnaround_bound"],
                    **{row: [c["value"] for c in checks] for row, checks in r["rows"].items()}}
                   for r in results]})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
