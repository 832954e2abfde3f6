"""Capacity planning: replay a trace through the simulator with today's fleet and with
alternative fleets, measure per target the queue wait and build turnaround, and find the
smallest fleet tried that keeps the p95 wait within a goal (`qgjob plan`).

A fleet is a device count per target. Targets share no devices, so each target's wait
depends mostly on its own count; the recommendation takes, per target, the fewest devices
that met the goal in any fleet tried, and is then simulated as a whole to check it: a
target that misses there (the policy reads the whole fleet: whether a batch arrives, what
installs cost lately) gets a device more, up to the most tried for it, until the fleet
meets the goal or no target can grow."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from qgjob.domain.values import TARGETS
from qgjob.scheduler.protocol import Policy
from qgjob.sim.engine import Simulator
from qgjob.sim.metrics import percentile
from qgjob.sim.trace import MAX_SECONDS, Trace, TraceDevice

Fleet = dict[str, int]
"""Devices per target."""
MAX_DEVICES_PER_TARGET = 1000
LOAD_MIN, LOAD_MAX = 0.001, 1000.0
"""`--load`'s range: a thousand times slower or faster than the trace."""
MAX_FLEETS = 100
_COUNT = re.compile(r"([+-]?)([0-9]+)(?:\.\.([0-9]+))?")


def fleet_of(trace: Trace) -> Fleet:
    """Today's fleet: the trace's devices counted per target."""
    return dict(Counter(d.target for d in trace.devices))


def parse_fleets(spec: str, today: Mapping[str, int]) -> list[Fleet]:
    """The fleets one `--devices` value names: `TARGET:N` (that many), `TARGET:+N` /
    `TARGET:-N` (relative to today) or `TARGET:A..B` (each count from A to B), comma
    separated. Targets not named keep today's count; a range sweeps its target alone, the
    others at their fixed counts (targets share no devices, so one sweep per target finds
    each target's need)."""
    fixed = dict(today)
    ranges: dict[str, list[int]] = {}
    named: set[str] = set()
    for part in spec.split(","):
        target, _, count = part.strip().partition(":")
        if target not in TARGETS:
            raise ValueError(f"--devices {spec!r}: target must be one of {', '.join(TARGETS)}")
        if target in named:
            raise ValueError(f"--devices {spec!r}: {target} is named twice")
        named.add(target)
        counts = _counts(spec, count.strip(), today.get(target, 0))
        if count.strip().count(".."):
            ranges[target] = counts
        else:
            fixed[target] = counts[0]
    if not ranges:
        return [_nonzero(fixed)]
    fleets = [_nonzero(fixed | {target: n}) for target, counts in ranges.items() for n in counts]
    if len(fleets) > MAX_FLEETS:
        raise ValueError(f"--devices {spec!r}: {len(fleets)} fleets, at most {MAX_FLEETS}")
    return fleets


def _nonzero(fleet: Fleet) -> Fleet:
    return {target: count for target, count in fleet.items() if count}


def _counts(spec: str, text: str, today: int) -> list[int]:
    match = _COUNT.fullmatch(text)
    if match is None or (match.group(1) and match.group(3)):
        raise ValueError(f"--devices {spec!r}: a count is N, +N, -N or A..B")
    sign, first, last = match.group(1), int(match.group(2)), match.group(3)
    if sign:
        counts = [today + first if sign == "+" else today - first]
    else:
        counts = list(range(first, int(last) + 1)) if last is not None else [first]
    if not counts or min(counts) < 0 or max(counts) > MAX_DEVICES_PER_TARGET:
        raise ValueError(f"--devices {spec!r}: counts must be 0 to {MAX_DEVICES_PER_TARGET} "
                         "(and a range A..B needs A <= B)")
    return counts


def parse_load(text: str) -> float:
    """`1.5x` or `1.5`: how many times today's arrival rate."""
    raw = text.strip().removesuffix("x")
    try:
        factor = float(raw)
    except ValueError:
        factor = 0.0
    if not LOAD_MIN <= factor <= LOAD_MAX:
        raise ValueError(f"--load {text!r}: a factor such as 1.5x (from {LOAD_MIN:g}x to "
                         f"{LOAD_MAX:g}x)")
    return factor


def scaled(trace: Trace, load: float) -> Trace:
    """The same jobs arriving `load` times as fast: every submit time divided by `load`.
    ValueError when that puts an arrival past a trace's times (`MAX_SECONDS`)."""
    if load == 1.0:
        return trace
    jobs = tuple(replace(job, submit_at=job.submit_at / load) for job in trace.jobs)
    last = max((job.submit_at for job in jobs), default=0.0)
    if last > MAX_SECONDS:
        raise ValueError(f"--load {load:g}x spreads the trace's arrivals over {last:.3g} s, "
                         f"past a trace's {MAX_SECONDS:.0e} s: take a larger factor")
    return replace(trace, jobs=jobs)


def check_fleet(trace: Trace, fleet: Mapping[str, int]) -> None:
    """A fleet must keep a device of every target the trace has jobs for."""
    short = sorted({j.target for j in trace.jobs if fleet.get(j.target, 0) < 1})
    if short:
        raise ValueError(f"the trace has {', '.join(short)} jobs: keep at least one device "
                         "of each")


def with_fleet(trace: Trace, fleet: Mapping[str, int]) -> Trace:
    """The trace on `fleet`: today's devices of a target kept as far as they go, then new
    ones named `TARGET-plan-N`."""
    check_fleet(trace, fleet)
    devices: list[TraceDevice] = []
    for target in sorted(fleet, key=TARGETS.index):
        ours = [d for d in trace.devices if d.target == target][:fleet[target]]
        extra = [TraceDevice(f"{target}-plan-{n}", target)
                 for n in range(1, fleet[target] - len(ours) + 1)]
        devices += ours + extra
    return replace(trace, devices=tuple(devices))


@dataclass(frozen=True)
class TargetOutcome:
    """One target's service on one fleet, in seconds."""

    target: str
    devices: int
    jobs: int
    p50_wait: float
    p95_wait: float
    p50_turnaround: float
    p95_turnaround: float


@dataclass(frozen=True)
class FleetOutcome:
    fleet: Fleet
    targets: dict[str, TargetOutcome]

    def meets(self, p95_wait: float) -> bool:
        return all(t.p95_wait <= p95_wait for t in self.targets.values())

    def as_dict(self) -> dict[str, Any]:
        return {"fleet": self.fleet, "targets": {
            name: {k: round(v, 3) if isinstance(v, float) else v
                   for k, v in vars(t).items()} for name, t in self.targets.items()}}


def simulate_fleet(trace: Trace, fleet: Mapping[str, int], policy: Policy) -> FleetOutcome:
    """Run `trace` on `fleet` and measure per target: queue wait (a job's first test start
    minus its submit) and build turnaround (a build's last finish minus its first submit)."""
    planned = with_fleet(trace, fleet)
    events = Simulator(planned, policy).run().events
    first_start: dict[str, float] = {}
    last_end: dict[str, float] = {}
    for event in events:
        if event["kind"] == "test":
            job_id = event["job_id"]
            first_start[job_id] = min(first_start.get(job_id, event["start"]), event["start"])
            last_end[job_id] = max(last_end.get(job_id, event["end"]), event["end"])
    waits: dict[str, list[float]] = defaultdict(list)
    builds: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [float("inf"), 0.0])
    for job in planned.jobs:
        waits[job.target].append(first_start[job.job_id] - job.submit_at)
        span = builds[(job.org_id, job.app_version_id, job.target)]
        span[0], span[1] = min(span[0], job.submit_at), max(span[1], last_end[job.job_id])
    turnarounds: dict[str, list[float]] = defaultdict(list)
    for (_, _, target), (first, last) in builds.items():
        turnarounds[target].append(last - first)
    return FleetOutcome(dict(fleet), {
        target: TargetOutcome(target, fleet[target], len(waits[target]),
                              percentile(waits[target], 50), percentile(waits[target], 95),
                              percentile(turnarounds[target], 50),
                              percentile(turnarounds[target], 95))
        for target in sorted(waits, key=TARGETS.index)})


def recommend(outcomes: Sequence[FleetOutcome], p95_wait: float) -> Fleet | None:
    """Per target, the fewest devices that kept its p95 wait within `p95_wait` in any fleet
    tried; None when some target met it in none."""
    fleet = dict(outcomes[0].fleet)
    for target in outcomes[0].targets:
        enough = [o.fleet[target] for o in outcomes if o.targets[target].p95_wait <= p95_wait]
        if not enough:
            return None
        fleet[target] = min(enough)
    return fleet


@dataclass(frozen=True)
class Plan:
    outcomes: list[FleetOutcome]
    """Today's fleet first, then the alternatives in the order asked."""
    recommended: FleetOutcome | None
    """The recommended fleet as simulated; None without a goal or when no fleet met it."""


def plan(trace: Trace, alternatives: Sequence[Fleet], policy: Policy, load: float = 1.0,
         p95_wait: float | None = None) -> Plan:
    """Simulate today's fleet and each alternative (duplicates once) on the trace at `load`."""
    loaded = scaled(trace, load)
    fleets: list[Fleet] = []
    for fleet in [fleet_of(trace), *alternatives]:
        if fleet not in fleets:
            check_fleet(trace, fleet)
            fleets.append(fleet)
    outcomes = [simulate_fleet(loaded, fleet, policy) for fleet in fleets]
    best = recommend(outcomes, p95_wait) if p95_wait is not None else None
    if best is None or p95_wait is None:
        return Plan(outcomes, None)
    # Targets share no devices, but the policy reads the whole fleet (whether a batch
    # arrives, what installs cost lately): a target that misses in the fleet as a whole gets
    # a device more, up to the most tried for it -- in at most `MAX_FLEETS` more simulations,
    # as many as the alternatives may ask for.
    most = {target: max(o.fleet.get(target, 0) for o in outcomes) for target in best}
    for _ in range(MAX_FLEETS):
        checked = next((o for o in outcomes if o.fleet == best), None) \
            or simulate_fleet(loaded, best, policy)
        grown = {target: best[target] + 1 for target, outcome in checked.targets.items()
                 if outcome.p95_wait > p95_wait and best[target] < most[target]}
        if checked.meets(p95_wait) or not grown:
            break
        best = best | grown
    return Plan(outcomes, checked)
