"""Scheduling metrics and lower bounds, computed from a trace and a schedule alone (the formats
of examples/traces/README.md), so any schedule can be judged the same way."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from qgjob.sim.trace import Trace, TraceJob


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else math.nan


@dataclass(frozen=True)
class Summary:
    trace: str
    policy: str
    jobs: int
    passed: int
    failed: int
    installs: int
    min_installs: int
    makespan: float
    lower_bound: float
    mean_turnaround: float
    p95_turnaround: float
    p95_turnaround_by_priority: dict[str, float]
    mean_flow_by_org: dict[str, float]

    @property
    def install_ratio(self) -> float:
        return self.installs / self.min_installs if self.min_installs else math.nan

    @property
    def makespan_ratio(self) -> float:
        return self.makespan / self.lower_bound if self.lower_bound else math.nan

    def as_dict(self) -> dict[str, Any]:
        """As JSON: a figure a trace without jobs has none of (a mean of nothing) is null."""
        data: dict[str, Any] = _rounded(asdict(self))
        data["install_ratio"] = _rounded(self.install_ratio, 4)
        data["makespan_ratio"] = _rounded(self.makespan_ratio, 4)
        return data


def _rounded(value: Any, digits: int = 3) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, digits)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def summarize(trace: Trace, policy: str, events: Sequence[dict[str, Any]]) -> Summary:
    jobs = {job.job_id: job for job in trace.jobs}
    finished: dict[str, float] = {}
    last_outcome: dict[str, str] = {}
    installs = 0
    makespan = 0.0
    for event in events:
        makespan = max(makespan, event["end"])
        if event["kind"] == "install":
            installs += 1
            continue
        job_id = event["job_id"]
        if event["end"] >= finished.get(job_id, -math.inf):
            finished[job_id] = event["end"]
            last_outcome[job_id] = event["outcome"]
    builds: dict[tuple[str, str, str], list[TraceJob]] = defaultdict(list)
    for job in trace.jobs:
        builds[(job.org_id, job.app_version_id, job.target)].append(job)
    turnaround: dict[tuple[str, str, str], float] = {}
    for key, members in builds.items():
        ends = [finished[j.job_id] for j in members if j.job_id in finished]
        if len(ends) == len(members):
            turnaround[key] = max(ends) - min(j.submit_at for j in members)
    by_priority: dict[str, list[float]] = defaultdict(list)
    for key, value in turnaround.items():
        by_priority[str(max(j.priority for j in builds[key]))].append(value)
    flows: dict[str, list[float]] = defaultdict(list)
    for job_id, end in finished.items():
        flows[jobs[job_id].org_id].append(end - jobs[job_id].submit_at)
    return Summary(
        trace=trace.name,
        policy=policy,
        jobs=len(trace.jobs),
        passed=sum(1 for o in last_outcome.values() if o == "pass"),
        failed=sum(1 for o in last_outcome.values() if o == "fail"),
        installs=installs,
        min_installs=len({(j.app_version_id, j.target) for j in trace.jobs}),
        makespan=makespan,
        lower_bound=lower_bound(trace),
        mean_turnaround=_mean(turnaround.values()),
        p95_turnaround=percentile(list(turnaround.values()), 95),
        p95_turnaround_by_priority={p: percentile(v, 95) for p, v in sorted(by_priority.items())},
        mean_flow_by_org={org: _mean(v) for org, v in sorted(flows.items())},
    )


def lower_bound(trace: Trace) -> float:
    """No schedule finishes sooner (examples/traces/README.md): per target, the latest
    submit + install + duration, the release-time bound and the split-aware bound.

    A job's work is every attempt its outcomes require: retries must run too (on the burst
    trace the bound without them is below what any schedule can reach)."""
    bound = 0.0
    targets = {d.target for d in trace.devices}
    for target in targets:
        jobs = [j for j in trace.jobs if j.target == target]
        if not jobs:
            continue
        machines = sum(1 for d in trace.devices if d.target == target)
        install = trace.install_seconds[target]
        work = {j.job_id: j.duration * j.attempts_needed(trace.max_attempts) for j in jobs}
        bound = max(bound,
                    max(j.submit_at + install + j.duration for j in jobs),
                    _release_bound(jobs, work, machines, install),
                    _split_bound(jobs, work, machines, install))
    return bound


def _release_bound(jobs: list[TraceJob], work: dict[str, float], machines: int,
                   install: float) -> float:
    first_release: dict[str, float] = {}
    for job in jobs:
        first_release[job.app_version_id] = min(first_release.get(job.app_version_id, math.inf),
                                                job.submit_at)
    best = 0.0
    for release in sorted({j.submit_at for j in jobs}):
        later_work = sum(work[j.job_id] for j in jobs if j.submit_at >= release)
        later_apps = sum(1 for r in first_release.values() if r >= release)
        best = max(best, release + (later_work + install * later_apps) / machines)
    return best


def _split_bound(jobs: list[TraceJob], work: dict[str, float], machines: int,
                 install: float) -> float:
    per_app: dict[str, float] = defaultdict(float)
    for job in jobs:
        per_app[job.app_version_id] += work[job.job_id]

    if not any(per_app.values()):
        return install  # nothing to run: each build's install, side by side

    def fits(horizon: float) -> bool:
        if horizon <= install:
            return False  # a device installs before it tests: nothing fits in that time
        need = sum(p + install * math.ceil(p / (horizon - install)) for p in per_app.values())
        return need <= machines * horizon

    low, high = install, install + sum(per_app.values()) + install * len(per_app) + 1.0
    for _ in range(100):
        middle = (low + high) / 2
        if fits(middle):
            high = middle
        else:
            low = middle
    return high
