from qgjob.domain.attempts import Outcome, RetryPolicy, after_attempt, after_lost_device
from qgjob.domain.models import DeviceSpec
from qgjob.scheduler.policy import PriorityAffinityPolicy
from qgjob.store.base import ClaimResult, Store, Transitioned
from tests.factories import T0

POLICY = PriorityAffinityPolicy(max_batch=4)
RETRY = RetryPolicy(base_seconds=2.0, max_seconds=60.0, jitter=0.0, max_infra_failures=2)
LEASE = 30.0


def register(store: Store, name: str = "lab", devices: str = "emulator-1:emulator",
             at: float = T0, agent_id: str | None = None) -> str:
    specs = [DeviceSpec(*d.split(":")) for d in devices.split(",")]
    agent_id = agent_id or f"agent-{name}-{at}"
    store.register_agent(agent_id, name, "test", "simulate", specs, at)
    return agent_id


def claim(store: Store, agent_id: str, device: str = "emulator-1", holds: str | None = None,
          at: float = T0) -> ClaimResult:
    return store.claim_batch(agent_id, device, holds, at, LEASE, POLICY.choose)


def finish(store: Store, job_id: str, lease_id: str, attempt: int, outcome: Outcome,
           at: float, error: str | None = None) -> Transitioned:
    return store.finish_attempt(
        job_id, lease_id, attempt, outcome, error, at,
        lambda job: after_attempt(job, outcome, error, at, RETRY, 0.5),
    )


def rescue(store: Store, at: float) -> list[Transitioned]:
    return store.rescue_expired_leases(at, lambda job: after_lost_device(job, "gone", RETRY))
