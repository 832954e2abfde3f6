"""The claim path's operations (`qgjob/claiming/driver.py`) as named queries, for any SQL
dialect behind a `Database`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from qgjob.claiming.driver import DeviceRow, HeldJob, LaneSeconds, LeaseRow, estimate
from qgjob.domain.models import Job, Lease
from qgjob.domain.states import JobState
from qgjob.scheduler.durations import DEFAULT_SECONDS, DurationStats, TargetPrior
from qgjob.scheduler.views import JobView, LaneView, RunningJob
from qgjob.store.rows import Row, job_from_row, job_to_params, lane_counts_from_column
from qgjob.store.sql.database import Database, Tx
from qgjob.store.sql.device_counts import DeviceCounts


class SqlClaimDriver:
    def __init__(self, conn: Tx, counts: DeviceCounts | None = None) -> None:
        self.conn = conn
        self._counts = counts or DeviceCounts()

    # devices ----------------------------------------------------------------------------------

    def device(self, agent_id: str, name: str) -> DeviceRow | None:
        row = self.conn.run("device_of_agent",
                            {"agent_id": agent_id, "device_name": name}).fetchone()
        return _device(row) if row else None

    def device_by_id(self, device_id: str) -> DeviceRow | None:
        row = self.conn.run("device_by_id", {"device_id": device_id}).fetchone()
        return _device(row) if row else None

    def set_device(self, device: DeviceRow, state: str, holds: str | None, now: float) -> None:
        self.conn.run("set_device_state", {"device_id": device.device_id, "state": state,
                                           "holds_app_version_id": holds, "now": now})

    def device_running(self, device_id: str, job: Job, now: float) -> None:
        self.conn.run("device_running", {"device_id": device_id, "job_id": job.job_id,
                                         "app_version_id": job.app_version_id, "now": now})

    def device_done(self, device_id: str, job_id: str, now: float) -> None:
        self.conn.run("device_done", {"device_id": device_id, "job_id": job_id, "now": now})

    # what the policy sees ---------------------------------------------------------------------

    def ready_lanes(self, target: str) -> list[LaneView]:
        return [LaneView(
            group_key=r["group_key"], org_id=r["org_id"], app_version_id=r["app_version_id"],
            target=r["target"],
            queued_by_priority=lane_counts_from_column(r["queued_by_priority"]),
            head_submitted_at=r["head_submitted_at"],
            oldest_submitted_at=r["oldest_submitted_at"],
            expected_seconds=estimate(r["expected_seconds"]),
            newest_submitted_at=r["newest_submitted_at"],
        ) for r in self.conn.run("ready_lanes", {"target": target})]

    def queued_lane_seconds(self, target: str) -> list[LaneSeconds]:
        return [(r["group_key"], r["org_id"], estimate(r["expected_seconds"]))
                for r in self.conn.run("queued_lane_seconds", {"target": target})]

    def held_jobs(self, target: str, device_id: str, now: float) -> list[HeldJob]:
        rows = self.conn.run("working_leases",
                             {"target": target, "now": now, "device_id": device_id})
        return [HeldJob(r["lease_id"], r["group_key"], r["org_id"], r["app_version_id"],
                        r["job_id"], JobState(r["state"]), float(r["expected_seconds"]),
                        r["started_at"], r["learned_seconds"], r["installing_since"])
                for r in rows]

    def device_counts(self, target: str, now: float, max_age: float) -> tuple[int, int]:
        def count() -> tuple[int, int]:
            row = self.conn.run("count_target_devices", {"target": target}).fetchone()
            return int(row["online"]), int(row["idle"])

        return self._counts.get(target, now, max_age, count)

    def idle_holds(self, target: str, device_id: str) -> set[str]:
        return {r["holds_app_version_id"] for r in self.conn.run(
            "idle_holds", {"target": target, "device_id": device_id})}

    def install_seconds(self, target: str) -> float | None:
        row = self.conn.run("recent_install_seconds", {"target": target}).fetchone()
        return None if row["seconds"] is None else float(row["seconds"])

    def retries_due(self, target: str) -> dict[str, float]:
        return {r["app_version_id"]: float(r["retry_at"])
                for r in self.conn.run("retries_due", {"target": target})}

    def lane_candidates(self, group_key: str, org_id: str, limit: int) -> list[JobView]:
        rows = self.conn.run("lane_candidates",
                             {"group_key": group_key, "org_id": org_id, "limit": limit})
        return [JobView(r["id"], r["priority"], r["created_at"], r["expected_seconds"],
                        r["attempts"], r["last_device_id"]) for r in rows]

    def targets_with_work(self) -> list[str]:
        return [r["target"] for r in self.conn.run("targets_with_queued_work")]

    def last_submit_at(self) -> float | None:
        row = self.conn.run("last_submit").fetchone()
        return None if row is None or row["at"] is None else float(row["at"])

    def builds_submitted_since(self, since: float, limit: int) -> int:
        row = self.conn.run("builds_submitted_since", {"since": since, "limit": limit}
                            ).fetchone()
        return int(row["n"])

    def builds_submitted_between(self, target: str, start: float, end: float, limit: int
                                 ) -> int:
        row = self.conn.run("builds_submitted_between",
                            {"target": target, "start": start, "end": end, "limit": limit}
                            ).fetchone()
        return int(row["n"])

    def builds_since(self, since: float, limit: int) -> list[tuple[str, int]]:
        return [(r["target"], int(r["jobs"]))
                for r in self.conn.run("builds_since", {"since": since, "limit": limit})]

    def installs_since(self, since: float) -> int:
        return int(self.conn.run("installs_since", {"since": since}).fetchone()["n"])

    def running_jobs(self, target: str) -> list[RunningJob]:
        return [RunningJob(r["id"], r["device_id"], r["group_key"], r["priority"],
                           r["started_at"])
                for r in self.conn.run("running_jobs_of_target", {"target": target})]

    # jobs, leases and attempts ----------------------------------------------------------------

    def job(self, job_id: str) -> Job | None:
        row = self.conn.run("lock_job", {"job_id": job_id}).fetchone()
        return job_from_row(row) if row else None

    def save_job(self, job: Job) -> None:
        self.conn.run("update_job", job_to_params(job))

    def assign(self, job_ids: Sequence[str], lease_id: str, device: DeviceRow,
               now: float) -> list[Job]:
        rows = self.conn.run("assign_jobs", {
            "job_ids": self.conn.array(list(job_ids)), "lease_id": lease_id,
            "agent_name": device.agent_name, "device_id": device.device_id, "now": now,
        }).fetchall()
        return [job_from_row(dict(row)) for row in rows]

    def insert_lease(self, lease: Lease, target: str, now: float) -> None:
        self.conn.run("insert_lease", {
            "lease_id": lease.lease_id, "agent_id": lease.agent_id,
            "device_id": lease.device_id, "group_key": lease.group_key,
            "org_id": lease.org_id, "target": target, "now": now,
            "expires_at": lease.expires_at})

    def lease(self, lease_id: str) -> LeaseRow | None:
        row = self.conn.run("lease_by_id", {"lease_id": lease_id}).fetchone()
        return None if row is None else LeaseRow(row["id"], row["device_id"], row["expires_at"],
                                                 row["jobs_started"])

    def expire_device_leases(self, device_id: str, now: float) -> None:
        self.conn.run("expire_device_leases", {"device_id": device_id, "now": now})

    def jobs_of_lease(self, lease_id: str, running_too: bool) -> list[Job]:
        query = "active_jobs_of_lease" if running_too else "assigned_jobs_of_lease"
        return [job_from_row(r) for r in self.conn.run(query, {"lease_id": lease_id})]

    def count_lease_start(self, lease_id: str) -> None:
        self.conn.run("count_lease_start", {"lease_id": lease_id})

    def drop_lease_if_done(self, lease_id: str) -> None:
        self.conn.run("delete_lease_if_done", {"lease_id": lease_id})

    def request_preemption(self, job_id: str, now: float) -> bool:
        return bool(self.conn.run("request_preemption",
                                  {"job_id": job_id, "now": now}).rowcount)

    def promote_due_retries(self, now: float, limit: int) -> list[Job]:
        rows = self.conn.run("promote_due_retries", {"now": now, "limit": limit}).fetchall()
        return [job_from_row(r) for r in rows]

    def start_attempt(self, job: Job, now: float) -> None:
        self.conn.run("insert_attempt", {
            "job_id": job.job_id, "attempt": job.attempts, "device_id": job.device_id,
            "agent_name": job.agent_name, "now": now})

    def attempt_outcome(self, job_id: str, attempt: int) -> tuple[str | None, float] | None:
        row = self.conn.run("attempt_by_number", {"job_id": job_id, "attempt": attempt}
                            ).fetchone()
        return None if row is None else (row["outcome"], float(row["started_at"]))

    def finish_attempt(self, job_id: str, attempt: int, outcome: str, error: str | None,
                       now: float) -> None:
        self.conn.run("finish_attempt", {"job_id": job_id, "attempt": attempt,
                                         "outcome": outcome, "error": error, "now": now})

    # durations --------------------------------------------------------------------------------

    def test_duration(self, org_id: str, test_path: str, target: str) -> DurationStats | None:
        row = self.conn.run("test_duration", {"org_id": org_id, "test_path": test_path,
                                              "target": target}).fetchone()
        return (DurationStats(row["samples"], row["mean_seconds"], row["priced_seconds"])
                if row else None)

    def test_elsewhere(self, org_id: str, test_path: str, target: str) -> list[float]:
        return [float(row["mean_seconds"]) for row in self.conn.run(
            "test_durations_elsewhere_of",
            {"org_id": org_id, "target": target, "test_paths": self.conn.array([test_path])})]

    def target_prior(self, target: str) -> TargetPrior:
        row = self.conn.run("target_duration", {"target": target}).fetchone()
        if row is None:
            return TargetPrior()
        priced = row["priced_seconds"]
        return TargetPrior(row["samples"], row["total_seconds"],
                           DEFAULT_SECONDS if priced is None else float(priced))

    def save_durations(self, org_id: str, test_path: str, target: str, stats: DurationStats,
                       prior: TargetPrior) -> None:
        self.conn.run("save_test_duration", {
            "org_id": org_id, "test_path": test_path, "target": target,
            "samples": stats.samples, "mean_seconds": stats.mean_seconds,
            "priced_seconds": stats.priced_seconds})
        self.conn.run("save_target_duration", {
            "target": target, "samples": prior.samples, "total_seconds": prior.total_seconds,
            "priced_seconds": prior.priced_seconds})

    def reprice_unseen(self, target: str, seconds: float) -> None:
        self.conn.run("reprice_unseen_tests", {"target": target, "seconds": seconds})

    def reprice_queued(self, org_id: str, test_path: str, target: str, seconds: float) -> None:
        self.conn.run("reprice_queued_test", {"org_id": org_id, "test_path": test_path,
                                              "target": target, "seconds": seconds})


class SqlTransactions:
    """The claim path's transactions on a `Database`, sharing this process's device counts."""

    def __init__(self, database: Database, counts: DeviceCounts) -> None:
        self._db = database
        self._counts = counts

    @contextmanager
    def write(self) -> Iterator[SqlClaimDriver]:
        with self._db.write() as conn:
            yield SqlClaimDriver(conn, self._counts)

    @contextmanager
    def read(self) -> Iterator[SqlClaimDriver]:
        with self._db.read() as conn:
            yield SqlClaimDriver(conn, self._counts)


def _device(row: Row) -> DeviceRow:
    resting = row["disabled_reason"]
    if resting is None and row["draining_since"] is not None:
        resting = f"its agent {row['agent_name']!r} is draining"
    return DeviceRow(row["id"], row["agent_id"], row["agent_name"], row["target"], row["state"],
                     row["holds_app_version_id"], resting)
