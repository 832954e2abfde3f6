"""An independent feasibility check of a schedule against its trace (the rules of
examples/traces/README.md). It shares no code with the simulator, so a simulator bug cannot
hide behind it."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from qgjob.sim.trace import Trace

EPSILON = 1e-6


def check_schedule(trace: Trace, events: list[dict[str, Any]]) -> list[str]:
    """Every rule a schedule breaks, as readable lines; empty when it is feasible."""
    problems: list[str] = []
    devices = {d.device_id: d.target for d in trace.devices}
    jobs = {j.job_id: j for j in trace.jobs}
    by_device: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event["device"] not in devices:
            problems.append(f"unknown device {event['device']}")
            continue
        if event["end"] < event["start"] - EPSILON or event["start"] < -EPSILON:
            problems.append(f"bad interval {event}")
        by_device[event["device"]].append(event)
    for device, items in by_device.items():
        problems += _check_device(device, devices[device], sorted(
            items, key=lambda e: (e["start"], e["kind"] == "test")), trace)
    attempts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event["kind"] == "test" and event["outcome"] != "preempted":
            attempts[event["job_id"]].append(event)
        elif event["kind"] == "test":
            job = jobs.get(event["job_id"])
            if job is not None and event["end"] - event["start"] > job.duration + EPSILON:
                problems.append(f"{event['job_id']}: a preempted attempt ran too long")
    for job_id, job in jobs.items():
        problems += _check_job(job_id, job, sorted(attempts.get(job_id, []),
                                                   key=lambda e: e["attempt"]), trace)
    unknown = set(attempts) - set(jobs)
    if unknown:
        problems.append(f"tests of unknown jobs: {sorted(unknown)[:3]}")
    return problems


def _check_device(device: str, target: str, items: list[dict[str, Any]],
                  trace: Trace) -> list[str]:
    problems = []
    holds: str | None = None
    busy_until = 0.0
    for event in items:
        if event["start"] < busy_until - EPSILON:
            problems.append(f"{device}: overlap at {event['start']:.3f}")
        busy_until = max(busy_until, event["end"])
        if event["kind"] == "install":
            if event["target"] != target:
                problems.append(f"{device}: installs for target {event['target']}")
            expected = trace.install_seconds[target]
            if abs(event["end"] - event["start"] - expected) > EPSILON:
                problems.append(f"{device}: install took {event['end'] - event['start']}")
            holds = event["app_version_id"]
            continue
        job = next((j for j in trace.jobs if j.job_id == event["job_id"]), None)
        if job is None:
            continue
        if job.target != target:
            problems.append(f"{device}: runs {job.job_id} of target {job.target}")
        if holds != job.app_version_id:
            problems.append(f"{device}: runs {job.job_id} without {job.app_version_id} installed")
    return problems


def _check_job(job_id: str, job: Any, tries: list[dict[str, Any]], trace: Trace) -> list[str]:
    problems = []
    needed = job.attempts_needed(trace.max_attempts)
    if [t["attempt"] for t in tries] != list(range(1, needed + 1)):
        return [f"{job_id}: attempts {[t['attempt'] for t in tries]}, expected 1..{needed}"]
    previous_end = job.submit_at
    for attempt in tries:
        if attempt["start"] < previous_end - EPSILON:
            problems.append(f"{job_id}: attempt {attempt['attempt']} starts too early")
        if abs(attempt["end"] - attempt["start"] - job.duration) > EPSILON:
            problems.append(f"{job_id}: attempt {attempt['attempt']} has the wrong duration")
        if attempt["outcome"] != job.outcome(attempt["attempt"]):
            problems.append(f"{job_id}: attempt {attempt['attempt']} has the wrong outcome")
        previous_end = attempt["end"]
    return problems
