"""Building domain objects for tests, with defaults that read like the brief's example."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from qgjob.domain.models import Job, NewJob, group_key_for
from qgjob.domain.states import JobState

T0 = 1_800_000_000.0  # a fixed "now" for tests of the pure core and the stores


def make_job(**changes: Any) -> Job:
    base = Job(
        job_id="j1", org_id="qualgent", app_version_id="xyz123",
        test_path="tests/onboarding.spec.js", target="emulator", priority=3,
        group_key="emulator|xyz123", state=JobState.RUNNING, attempts=1, max_attempts=3,
        infra_failures=0, created_at=T0, updated_at=T0, started_at=T0 + 1,
        lease_id="lease-1", agent_name="lab-1", device_id="lab-1/emulator-1",
    )
    return replace(base, **changes)


_counter = 0


def new_job(
    org_id: str = "qualgent", app_version_id: str = "xyz123",
    test_path: str = "tests/onboarding.spec.js", target: str = "emulator", priority: int = 3,
    *, at: float = T0, per_org: bool = False, max_attempts: int = 3,
    idempotency_key: str | None = None, job_id: str | None = None, run_id: str | None = None,
) -> NewJob:
    global _counter
    _counter += 1
    return NewJob(
        job_id=job_id or f"job{_counter:06d}", org_id=org_id, app_version_id=app_version_id,
        test_path=test_path, target=target, priority=priority, max_attempts=max_attempts,
        group=group_key_for(org_id, app_version_id, target, per_org=per_org),
        created_at=at, idempotency_key=idempotency_key, run_id=run_id,
    )


# The brief's example: five submissions, three groups across orgs.
BRIEF_EXAMPLE = [
    ("qualgent", "xyz123", "tests/onboarding.spec.js", "emulator"),
    ("qualgent", "xyz123", "tests/login.spec.js", "emulator"),
    ("qualgent", "xyz123", "tests/onboarding.spec.js", "device"),
    ("qualgent", "xyz999", "tests/onboarding.spec.js", "emulator"),
    ("acme", "xyz123", "tests/onboarding.spec.js", "emulator"),
]
