from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from qgjob.domain.attempts import Outcome, RetryPolicy, after_attempt, after_lost_device
from qgjob.domain.models import DeviceSpec, Job
from qgjob.scheduler.views import ClaimContext, FleetRules, JobView, LaneChoice, LaneView
from qgjob.store import open_store, sqlfiles
from qgjob.store.base import ClaimResult, Store, Transitioned
from qgjob.store.sql.database import Tx
from tests.factories import T0


@dataclass(frozen=True)
class OldestLanePolicy:
    """A deterministic policy for the storage contract: the lane of the held app, else the
    oldest lane; `batch` jobs in the store's order; never yields."""

    batch: int = 4
    name: str = "oldest-lane"

    def weighs_drains(self, ctx: ClaimContext) -> bool:
        return True  # the view then shows every fact a store reads for a policy

    def weighs_installs(self, ctx: ClaimContext) -> bool:
        return True

    def looks_again_at(self, ctx: ClaimContext) -> float | None:
        return None

    def choose_lane(self, ctx: ClaimContext) -> LaneChoice | None:
        held = [lane for lane in ctx.lanes
                if lane.app_version_id == ctx.device.holds_app_version_id]
        lanes = held or list(ctx.lanes)
        if not lanes:
            return None
        lane = min(lanes, key=lambda lane: (lane.head_submitted_at, lane.group_key))
        return LaneChoice(lane.group_key, lane.org_id)

    def choose_jobs(self, ctx: ClaimContext, lane: LaneView,
                    candidates: Sequence[JobView]) -> list[str]:
        return [job.job_id for job in candidates[:self.batch]]

    def should_yield(self, ctx: ClaimContext, next_job: JobView) -> bool:
        return False


POLICY = OldestLanePolicy()
RULES = FleetRules()
RETRY = RetryPolicy(base_seconds=2.0, max_seconds=60.0, jitter=0.0, max_infra_failures=2)
LEASE = 30.0
QUIET = 10.0
"""How long without any agent heard from means the whole service was down."""


def register(store: Store, name: str = "lab", devices: str = "emulator-1:emulator",
             at: float = T0, agent_id: str | None = None) -> str:
    specs = [DeviceSpec(*d.split(":")) for d in devices.split(",")]
    agent_id = agent_id or f"agent-{name}-{at}"
    store.register_agent(agent_id, name, "test", "simulate", specs, at)
    return agent_id


def claim(store: Store, agent_id: str, device: str = "emulator-1", holds: str | None = None,
          at: float = T0) -> ClaimResult:
    return store.claim_batch(agent_id, device, holds, at, LEASE, POLICY, RULES)


def start(store: Store, job_id: str, lease_id: str, at: float) -> Job:
    return store.start_attempt(job_id, lease_id, at, POLICY, RULES)


def finish(store: Store, job_id: str, lease_id: str, attempt: int, outcome: Outcome,
           at: float, error: str | None = None) -> Transitioned:
    return store.finish_attempt(
        job_id, lease_id, attempt, outcome, error, at,
        lambda job: after_attempt(job, outcome, error, at, RETRY, 0.5),
    )


def rescue(store: Store, at: float) -> list[Transitioned]:
    return store.rescue_expired_leases(at, lambda job: after_lost_device(job, "gone", RETRY))


MIGRATIONS_OF = {"sqlite": "qgjob.store.sqlite.database",
                 "postgres": "qgjob.store.postgres.database"}
"""Where each dialect's store loads its migrations."""


@contextmanager
def store_before(backend: str, url: str, last: int, monkeypatch: pytest.MonkeyPatch
                 ) -> Iterator[Store]:
    """A store of `url` migrated up to its dialect's migration `last` only: a database as an
    earlier release left it, to write rows into as that release did."""
    every = sqlfiles.load_migrations
    with monkeypatch.context() as patch:
        patch.setattr(f"{MIGRATIONS_OF[backend]}.load_migrations",
                      lambda package: every(package)[:last])
        old = open_store(url)
        try:
            old.migrate()
            yield old
        finally:
            old.close()


def insert_row(tx: Tx, table: str, row: dict[str, object],
               casts: dict[str, str] | None = None) -> None:
    """One row written as is (`casts`: SQL appended to a column's placeholder, such as
    `::jsonb`): a row as an earlier release wrote it, which today's queries no longer do."""
    values = ", ".join(tx.param(name) + (casts or {}).get(name, "") for name in row)
    tx.run_sql(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({values})", row)
