"""The store's logic, shared by the SQL dialects: every state change one transaction; the
decisions (which batch, what an attempt leads to) come in as pure functions and are applied
inside it. Queries are named; each dialect has its own SQL for them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from qgjob.auth.tokens import ApiToken
from qgjob.claiming.driver import ClaimDriver
from qgjob.claiming.path import ClaimPath, lost_reason
from qgjob.domain import transitions
from qgjob.domain.attempts import Outcome, Verdict
from qgjob.domain.health import Quarantined, TestHealthRow, TestQuery
from qgjob.domain.history import Recording, Timeline
from qgjob.domain.models import (
    Agent,
    Attempt,
    AttemptFile,
    CaseResult,
    Device,
    DeviceSpec,
    GroupSummary,
    Job,
    NewJob,
    OutputSlice,
)
from qgjob.domain.repeats import FailureEvidence
from qgjob.domain.runs import NewRun, Run
from qgjob.domain.states import JobState
from qgjob.domain.stats import OrgStats
from qgjob.scheduler.protocol import Policy
from qgjob.scheduler.views import ClaimContext, FleetRules
from qgjob.store.base import (
    AgentOwner,
    ClaimResult,
    DecideAttempt,
    DeviceReport,
    HeartbeatAck,
    HolderCheck,
    JobFilter,
    JobFinished,
    LeaseLost,
    NotFound,
    QueueCount,
    RegisterAgain,
    RunFilter,
    RunPage,
    Transitioned,
    WakeUp,
    WriteRefusal,
    WrongTarget,
)
from qgjob.store.rows import (
    Row,
    agent_from_row,
    device_from_row,
    group_from_row,
    job_from_row,
    job_to_params,
)
from qgjob.store.sql import (
    fleet,
    health,
    history,
    job_listing,
    org_views,
    output,
    runs,
    submits,
    tokens,
)
from qgjob.store.sql.claim_driver import SqlClaimDriver, SqlTransactions
from qgjob.store.sql.database import Database, Tx, retried
from qgjob.store.sql.device_counts import DeviceCounts

_RESCUE_BATCH = 200
_GROUP_JOB_IDS_MAX = 1000


class SqlStore:
    """The store's logic, for any dialect behind a `Database`."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self.dialect = database.dialect
        # Kept between claims; dropped after each change this store commits to which
        # devices take work.
        self._device_counts = DeviceCounts()
        self._claims = ClaimPath(SqlTransactions(database, self._device_counts))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    # life cycle -----------------------------------------------------------------------------

    def migrate(self) -> None:
        self._db.migrate()

    def schema_version(self) -> int:
        return self._db.schema_version()

    def close(self) -> None:
        self._db.close()

    def ping(self) -> None:
        self._db.ping()

    def write_refusal(self) -> WriteRefusal | None:
        return self._db.write_refusal()

    def leads_maintenance(self) -> bool:
        """Whether this process should run maintenance now (a dialect shared by several
        servers elects one)."""
        return True

    def watch_work(self, wake: WakeUp) -> None:
        """Call `wake(target, app_version_id, count)` when other processes queue work (a
        dialect shared by several servers tells them; alone, a server knows already)."""

    # jobs -----------------------------------------------------------------------------------

    @retried
    def insert_jobs(self, jobs: Sequence[NewJob]) -> list[Job]:
        """All stored, or none (one transaction); the answer keeps the caller's order."""
        with self._db.write() as conn:
            return submits.insert(conn, jobs)

    def get_job(self, job_id: str) -> Job | None:
        with self._db.read() as conn:
            row = conn.run("job_by_id", {"job_id": job_id}).fetchone()
        return job_from_row(row) if row else None

    def list_jobs(self, query: JobFilter) -> list[Job]:
        with self._db.read() as conn:
            return job_listing.page(conn, query)

    def jobs_ahead_in_lane(self, job: Job) -> int:
        with self._db.read() as conn:
            return job_listing.ahead_in_lane(conn, job)

    @retried
    def cancel_job(self, job_id: str, now: float) -> Transitioned:
        with self._db.write() as conn:
            try:
                return _cancel(conn, _load_job(conn, job_id), now)
            except transitions.TransitionRefused as refused:
                raise JobFinished(str(refused)) from None

    # runs (the queries live in runs.py) ---------------------------------------------------

    @retried
    def insert_run(self, run: NewRun, jobs: Sequence[NewJob] = ()
                   ) -> tuple[Run, list[Job], bool]:
        with self._db.write() as conn:
            stored, created = runs.insert(conn, run)
            if not created:
                return stored, runs.jobs(conn, stored.run_id), False
            inserted = submits.insert(conn, jobs)
            return runs.with_counts(conn, [conn.run("run_by_id", {"run_id": run.run_id})
                                            .fetchone()])[0], inserted, True

    def get_run(self, run_id: str) -> Run | None:
        with self._db.read() as conn:
            return runs.by_id(conn, run_id)

    def list_runs(self, query: RunFilter) -> RunPage:
        with self._db.read() as conn:
            return runs.page(conn, query)

    def run_jobs(self, run_id: str) -> list[Job]:
        with self._db.read() as conn:
            return runs.jobs(conn, run_id)

    def run_cases(self, run_id: str) -> dict[str, list[CaseResult]]:
        with self._db.read() as conn:
            return runs.cases(conn, run_id)

    @retried
    def cancel_run(self, run_id: str, now: float) -> list[Transitioned]:
        """The run is locked first, as a submit into it locks it (so the jobs a submit stores
        meanwhile are cancelled too, or the submit is refused), and marked cancelled (its
        `cancelled_at`: a running job is only asked to stop, so the jobs alone would not keep
        it from taking new ones); then its jobs one by one in id order; one that finished
        meanwhile is left."""
        changed: list[Transitioned] = []
        with self._db.write() as conn:
            runs.lock(conn, run_id)
            runs.mark_cancelled(conn, run_id, now)
            for job_id in runs.active_job_ids(conn, run_id):
                job = _load_job(conn, job_id)
                if not job.state.is_final:
                    changed.append(_cancel(conn, job, now))
        return changed

    def groups(self, include_finished: bool, limit: int) -> list[GroupSummary]:
        groups_query = "all_groups" if include_finished else "active_groups"
        ids_query = "job_ids_of_group" if include_finished else "active_job_ids_of_group"
        with self._db.read() as conn:
            summaries = []
            for row in conn.run(groups_query, {"limit": limit}).fetchall():
                ids = conn.run(
                    ids_query, {"group_key": row["group_key"], "limit": _GROUP_JOB_IDS_MAX}
                )
                summaries.append(group_from_row(row, tuple(r["id"] for r in ids)))
        return summaries

    def queue_views(self, now: float, rules: FleetRules, target: str | None = None,
                    policy: Policy | None = None) -> list[ClaimContext]:
        """The policy's view of every target with queued work (or of `target` alone), as an
        idle newcomer would see it (read as its claim would, with `policy`): for explaining
        the queue, not for claiming."""
        return self._claims.queue_views(now, rules, target, policy)

    def queue_counts(self) -> list[QueueCount]:
        with self._db.read() as conn:
            rows = conn.run("queue_counts").fetchall()
        return [
            QueueCount(r["priority"], r["target"], r["org_id"], r["queued"], r["running"])
            for r in rows
        ]

    def queued_jobs_of_org(self, org_id: str) -> int:
        with self._db.read() as conn:
            return int(conn.run("queued_jobs_of_org", {"org_id": org_id}).fetchone()["queued"])

    # agents and devices ---------------------------------------------------------------------

    @retried
    def register_agent(
        self, agent_id: str, name: str, version: str, executor: str,
        devices: Sequence[DeviceSpec], now: float, token_id: str | None = None,
        holder_check: HolderCheck | None = None,
    ) -> Agent:
        device_ids = [f"{name}/{spec.name}" for spec in devices]
        with self._db.write() as conn:
            conn.run("lock_agent_name", {"name": name})
            if holder_check is not None:
                holder_check(tokens.online_agent_owner(conn, name))
            conn.run("replace_agents_named", {"name": name})
            conn.run("insert_agent",
                {"agent_id": agent_id, "name": name, "version": version,
                 "executor": executor, "now": now},
            )
            tokens.set_agent_token(conn, agent_id, token_id)
            if devices:
                conn.run_many("upsert_device", [
                    {"device_id": device_id, "agent_id": agent_id, "agent_name": name,
                     "name": spec.name, "target": spec.target,
                     "holds_app_version_id": spec.holds_app_version_id, "now": now}
                    for device_id, spec in zip(device_ids, devices, strict=True)])
            conn.run("expire_leases_of_devices_named",
                {"agent_id": agent_id, "agent_name": name, "now": now},
            )
            conn.run("delete_devices_not_in",
                {"agent_name": name, "device_ids": conn.array(device_ids)},
            )
            agent_row = conn.run("agent_by_id", {"agent_id": agent_id}).fetchone()
            rows = conn.run("devices_of_agent", {"agent_id": agent_id}).fetchall()
        self._device_counts.forget()
        return agent_from_row(agent_row, tuple(device_from_row(r) for r in rows))

    def list_agents(self) -> list[Agent]:
        with self._db.read() as conn:
            agent_rows = conn.run("listed_agents").fetchall()
            device_rows = conn.run("listed_devices").fetchall()
            drains = fleet.drains(conn)
        by_agent: dict[str, list[Any]] = {}
        for row in device_rows:
            by_agent.setdefault(row["agent_id"], []).append(device_from_row(row))
        return [agent_from_row(r, heard_with(r, by_agent.get(r["id"], [])),
                               drains.get(r["name"])) for r in agent_rows]

    @retried
    def heartbeat(
        self, agent_id: str, devices: Sequence[DeviceReport], now: float, lease_seconds: float
    ) -> HeartbeatAck:
        expires_at = now + lease_seconds
        working_leases = [d.lease_id for d in devices if d.lease_id]
        with self._db.write() as conn:
            if not conn.run("touch_agent", {"agent_id": agent_id, "now": now}).rowcount:
                return HeartbeatAck(known=False)
            if devices:  # in name order, as every writer locks device rows
                held = _held_jobs(conn, agent_id, devices)
                conn.run_many("update_device", [_device_params(agent_id, report, now, held)
                                                for report in sorted(devices,
                                                                     key=lambda d: d.name)])
            conn.run("extend_leases",
                {"agent_id": agent_id, "now": now, "expires_at": expires_at,
                 "lease_ids": conn.array(working_leases)},
            )
            rows = conn.run("cancel_requested_jobs_of_agent", {"agent_id": agent_id})
            cancel_ids = tuple(r["id"] for r in rows)
            rows = conn.run("preempt_requested_jobs_of_agent", {"agent_id": agent_id})
            preempt_ids = tuple(r["id"] for r in rows)
        return HeartbeatAck(known=True, cancel_job_ids=cancel_ids, lease_expires_at=expires_at,
                            preempt_job_ids=preempt_ids)

    @retried
    def record_install(
        self, agent_id: str, device_name: str, app_version_id: str, target: str,
        started_at: float, finished_at: float, ok: bool, failure_limit: int = 0,
    ) -> str | None:
        with self._db.write() as conn:
            device = _load_device(conn, agent_id, device_name)
            if device["target"] != target:  # as a claim for it would be refused
                raise WrongTarget(device_name, device["target"], target)
            conn.run("insert_install",
                {"device_id": device["id"], "app_version_id": app_version_id, "target": target,
                 "started_at": started_at, "finished_at": finished_at, "ok": int(ok)},
            )
            if ok:
                fleet.device_succeeded(conn, device["id"])
                return None
            if not fleet.build_installed_before(conn, app_version_id, target):
                return None  # the build may be what is broken, not the device
            resting = fleet.device_failed(conn, device["id"], f"could not install "
                                          f"{app_version_id}", failure_limit, finished_at)
        if resting is not None:
            self._device_counts.forget()
        return resting

    # the claim path (written once in qgjob/claiming/path.py) -----------------------------

    @retried
    def claim_batch(
        self, agent_id: str, device_name: str, holds_app_version_id: str | None,
        now: float, lease_seconds: float, policy: Policy, rules: FleetRules,
        target: str | None = None,
    ) -> ClaimResult:
        return self._claims.claim_batch(agent_id, device_name, holds_app_version_id, now,
                                        lease_seconds, policy, rules, target)

    @retried
    def start_attempt(
        self, job_id: str, lease_id: str, now: float, policy: Policy, rules: FleetRules
    ) -> Job:
        return self._claims.start_attempt(job_id, lease_id, now, policy, rules)

    @retried
    def finish_attempt(
        self, job_id: str, lease_id: str, attempt: int, outcome: Outcome, error: str | None,
        now: float, decide: DecideAttempt, cases: Sequence[CaseResult] = (),
        last_output: str = "", output_offset: int | None = None,
    ) -> Transitioned:
        held: list[Tx] = []

        def keep(driver: ClaimDriver) -> None:
            assert isinstance(driver, SqlClaimDriver)
            if last_output:
                output.append(driver.conn, job_id, attempt, last_output, output_offset)
            if cases:
                output.save_cases(driver.conn, job_id, attempt, cases)
            _record_health(driver, job_id, attempt, outcome, error, cases, now)
            if outcome is Outcome.PASSED:
                _device_passed(driver, job_id)
            held.append(driver.conn)

        def decide_and_note(job: Job) -> Verdict:
            """The verdict's note goes with the attempt, and a finished job into its org's
            statistics, in the same transaction (`keep` runs just before the decision)."""
            verdict = decide(job)
            if held and verdict.note is not None:
                health.note_attempt(held[0], job_id, attempt, verdict.note)
            if held and verdict.state.is_final:
                health.count_finished_job(held[0], replace(
                    job, state=verdict.state, flaky=verdict.flaky), now)
            return verdict

        return self._claims.finish_attempt(job_id, lease_id, attempt, outcome, error, now,
                                           decide_and_note, keep)

    # what attempts leave behind ------------------------------------------------------------

    @retried
    def append_output(self, job_id: str, lease_id: str, attempt: int, text: str,
                      offset: int | None = None) -> None:
        with self._db.write() as conn:
            _current_attempt(conn, job_id, lease_id, attempt)
            if offset is None:
                output.append(conn, job_id, attempt, text)
            else:
                output.append_chunk(conn, job_id, attempt, text, offset)

    @retried
    def save_file(self, job_id: str, lease_id: str, attempt: int, file: AttemptFile) -> None:
        with self._db.write() as conn:
            _current_attempt(conn, job_id, lease_id, attempt)
            output.save_file(conn, job_id, attempt, file)

    def read_output(self, job_id: str, attempt: int | None, offset: int) -> OutputSlice | None:
        with self._db.read() as conn:
            return output.read(conn, job_id, attempt, offset)

    def last_cases(self, job_id: str) -> list[CaseResult]:
        with self._db.read() as conn:
            return output.last_cases(conn, job_id)

    def list_files(self, job_id: str) -> list[tuple[int, str, str, int]]:
        with self._db.read() as conn:
            return output.list_files(conn, job_id)

    def read_file(self, job_id: str, attempt: int, name: str) -> AttemptFile | None:
        with self._db.read() as conn:
            return output.read_file(conn, job_id, attempt, name)

    def lease_agent(self, lease_id: str) -> str | None:
        with self._db.read() as conn:
            row = conn.run("lease_by_id", {"lease_id": lease_id}).fetchone()
        return None if row is None else str(row["agent_id"])

    @retried
    def release_jobs(self, lease_id: str, job_ids: Sequence[str], now: float) -> list[Job]:
        return self._claims.release_jobs(lease_id, job_ids, now)

    # maintenance ----------------------------------------------------------------------------

    @retried
    def rescue_expired_leases(self, now: float, decide: DecideAttempt,
                              failure_limit: int = 0) -> list[Transitioned]:
        rescued: list[Transitioned] = []
        disabled: list[str] = []
        with self._db.write() as conn:
            leases = conn.run("expired_leases", {"now": now, "limit": _RESCUE_BATCH}
            ).fetchall()
            for lease in leases:
                jobs = conn.run("active_jobs_of_lease", {"lease_id": lease["id"]})
                for job in [job_from_row(r) for r in jobs]:
                    after = transitions.apply_verdict(job, decide(job), now)
                    conn.run("update_job", job_to_params(after))
                    if job.state is JobState.RUNNING:
                        conn.run("finish_attempt",
                            {"job_id": job.job_id, "attempt": job.attempts, "outcome": "lost",
                             "error": after.error, "now": now},
                        )
                        _count_lost_attempt(conn, job, now)
                        if job.device_id is not None and fleet.device_failed(
                                conn, job.device_id, f"lost job {job.job_id}", failure_limit,
                                now) is not None:
                            disabled.append(job.device_id)
                    if after.state.is_final:
                        health.count_finished_job(conn, after, now)
                    rescued.append(Transitioned(job, after))
                conn.run("delete_lease", {"lease_id": lease["id"]})
        if disabled:
            self._device_counts.forget()
        return rescued

    @retried
    def promote_due_retries(self, now: float) -> list[Job]:
        return self._claims.promote_due_retries(now)

    @retried
    def preempt_for_urgent_work(
        self, now: float, policy: Policy, rules: FleetRules
    ) -> list[str]:
        return self._claims.preempt_for_urgent_work(now, policy, rules)

    @retried
    def grant_restart_grace(self, now: float, lease_seconds: float,
                            quiet_seconds: float) -> int:
        with self._db.write() as conn:
            return int(conn.run("extend_all_leases", {
                "expires_at": now + lease_seconds, "quiet_since": now - quiet_seconds,
            }).rowcount)

    # API tokens -----------------------------------------------------------------------------

    @retried
    def insert_token(self, token: ApiToken) -> None:
        with self._db.write() as conn:
            tokens.insert(conn, token)

    def get_token(self, token_id: str) -> ApiToken | None:
        with self._db.read() as conn:
            return tokens.by_id(conn, token_id)

    def list_tokens(self) -> list[ApiToken]:
        with self._db.read() as conn:
            return tokens.every(conn)

    @retried
    def revoke_token(self, token_id: str, now: float) -> ApiToken:
        with self._db.write() as conn:
            revoked = tokens.revoke(conn, token_id, now)
        if revoked is None:
            raise NotFound(f"no token with id {token_id!r}")
        return revoked

    def count_active_tokens(self) -> int:
        with self._db.read() as conn:
            return tokens.count_active(conn)

    @retried
    def touch_token(self, token_id: str, now: float) -> None:
        with self._db.write() as conn:
            tokens.touch(conn, token_id, now)

    def agent_owner(self, agent_id: str) -> AgentOwner | None:
        with self._db.read() as conn:
            return tokens.agent_owner(conn, agent_id)

    def online_agent_owner(self, name: str) -> AgentOwner | None:
        with self._db.read() as conn:
            return tokens.online_agent_owner(conn, name)

    def org_groups(self, org_id: str, include_finished: bool, limit: int) -> list[GroupSummary]:
        with self._db.read() as conn:
            return org_views.groups_of_org(conn, org_id, include_finished, limit,
                                           _GROUP_JOB_IDS_MAX)

    @retried
    def sign_off(self, agent_id: str) -> bool:
        with self._db.write() as conn:
            ended = bool(conn.run("sign_off_agent", {"agent_id": agent_id}).rowcount)
            if ended:
                conn.run("mark_devices_offline", {"agent_ids": conn.array([agent_id])})
        self._device_counts.forget()
        return ended

    @retried
    def mark_agents_offline(self, seen_before: float, now: float) -> list[str]:
        with self._db.write() as conn:
            ids = [r["id"] for r in conn.run("mark_agents_offline", {"seen_before": seen_before}
            ).fetchall()]
            if ids:
                conn.run("mark_devices_offline", {"agent_ids": conn.array(ids)})
        if ids:
            self._device_counts.forget()
        return ids

    # fleet operations (the queries live in fleet.py) ---------------------------------------

    def drain_agent(self, name: str, now: float) -> list[Job]:
        held = self._drain(name, now)
        released: list[Job] = []
        for lease_id, job_ids in held.items():
            released += self.release_jobs(lease_id, job_ids, now)
        return released

    @retried
    def _drain(self, name: str, now: float) -> dict[str, list[str]]:
        with self._db.write() as conn:
            held = fleet.drain(conn, name, now)
        self._device_counts.forget()
        return held

    @retried
    def undrain_agent(self, name: str) -> bool:
        with self._db.write() as conn:
            undrained = fleet.undrain(conn, name)
        self._device_counts.forget()
        return undrained

    @retried
    def remove_agent(self, name: str, now: float, offline_seconds: float) -> None:
        with self._db.write() as conn:
            fleet.forget(conn, name, now, offline_seconds)
        self._device_counts.forget()

    @retried
    def enable_device(self, device_id: str) -> None:
        with self._db.write() as conn:
            fleet.enable(conn, device_id)
        self._device_counts.forget()

    @retried
    def count_device_time(self, now: float, max_step: float) -> None:
        with self._db.write() as conn:
            fleet.count_time(conn, now, max_step)

    def recording(self, since: float, until: float) -> Recording:
        with self._db.read() as conn:
            return fleet.recording(conn, since, until)

    # history (the queries live in history.py) ---------------------------------------------

    def job_attempts(self, job_id: str) -> list[Attempt]:
        with self._db.read() as conn:
            return history.job_attempts(conn, job_id)

    def timeline(self, since: float, until: float, limit: int) -> Timeline:
        with self._db.read() as conn:
            return history.timeline(conn, since, until, limit)

    def state_counts(self) -> dict[JobState, int]:
        with self._db.read() as conn:
            return history.state_counts(conn)

    def change_marker(self) -> tuple[object, ...]:
        with self._db.read() as conn:
            return history.change_marker(conn)

    # test health (the queries live in health.py) ------------------------------------------

    def test_health(self, query: TestQuery) -> list[TestHealthRow]:
        with self._db.read() as conn:
            return health.tests(conn, query)

    def failure_evidence(self, job_id: str, flaky_threshold: float) -> FailureEvidence:
        with self._db.read() as conn:
            return health.failure_evidence(conn, job_id, flaky_threshold)

    @retried
    def prune_test_history(self, before: float) -> int:
        with self._db.write() as conn:
            return health.prune(conn, before)

    @retried
    def roll_up_org_hours(self, before: float) -> int:
        with self._db.write() as conn:
            return health.roll_up_org_hours(conn, before)

    @retried
    def quarantine_test(self, org_id: str, test_path: str, reason: str | None,
                        added_by: str | None, now: float) -> tuple[Quarantined, bool]:
        with self._db.write() as conn:
            return health.quarantine(conn, org_id, test_path, reason, added_by, now)

    @retried
    def unquarantine_test(self, org_id: str, test_path: str) -> bool:
        with self._db.write() as conn:
            return health.unquarantine(conn, org_id, test_path)

    def quarantined_tests(self, org_id: str | None, limit: int) -> list[Quarantined]:
        with self._db.read() as conn:
            return health.quarantined(conn, org_id, limit)

    def org_stats(self, org_id: str | None, since: float) -> list[OrgStats]:
        with self._db.read() as conn:
            return health.org_stats(conn, org_id, since)


def _cancel(conn: Tx, before: Job, now: float) -> Transitioned:
    """Cancel a job locked by this transaction (TransitionRefused if it finished)."""
    after = transitions.cancel(before, now)
    conn.run("update_job", job_to_params(after))
    if before.lease_id is not None and after.lease_id is None:
        conn.run("delete_lease_if_done", {"lease_id": before.lease_id})
    if after.state.is_final:
        health.count_finished_job(conn, after, now)
    return Transitioned(before, after)


def _load_job(conn: Tx, job_id: str) -> Job:
    """The job, locked for the rest of the write transaction."""
    row = conn.run("lock_job", {"job_id": job_id}).fetchone()
    if row is None:
        raise NotFound(f"no job with id {job_id!r}")
    return job_from_row(row)


def _load_device(conn: Tx, agent_id: str, device_name: str) -> Row:
    row = conn.run("device_of_agent", {"agent_id": agent_id, "device_name": device_name}
    ).fetchone()
    if row is None:
        raise RegisterAgain(f"agent {agent_id!r} has no device {device_name!r}; register again")
    return row  # type: ignore[no-any-return]


def _held_jobs(conn: Tx, agent_id: str, devices: Sequence[DeviceReport]) -> set[str]:
    """Of the jobs the devices say they run, those held under a lease of this agent."""
    reported = sorted({d.current_job_id for d in devices if d.current_job_id})
    if not reported:
        return set()
    rows = conn.run("jobs_held_by_agent",
                    {"agent_id": agent_id, "job_ids": conn.array(reported)})
    return {row["id"] for row in rows}


def _device_params(agent_id: str, report: DeviceReport, now: float,
                   held: set[str]) -> dict[str, Any]:
    """What a heartbeat stores of a device. A job is shown on it only when this agent holds
    it: an agent cannot claim another's job (of another org, perhaps) for its device, and a
    device that runs no job of ours is not running (nor counted busy)."""
    job_id = report.current_job_id if report.current_job_id in held else None
    state = "idle" if report.state == "running" and job_id is None else report.state
    return {
        "agent_id": agent_id, "device_name": report.name, "state": state,
        "holds_app_version_id": report.holds_app_version_id,
        "current_job_id": job_id, "now": now,
    }


def _current_attempt(conn: Tx, job_id: str, lease_id: str, attempt: int) -> Job:
    """The job, if `attempt` is its running attempt under `lease_id`; else LeaseLost."""
    job = _load_job(conn, job_id)
    if job.state is not JobState.RUNNING or job.lease_id != lease_id or job.attempts != attempt:
        raise LeaseLost(lost_reason(job, lease_id, attempt))
    return job


def _record_health(driver: SqlClaimDriver, job_id: str, attempt: int, outcome: Outcome,
                   error: str | None, cases: Sequence[CaseResult], now: float) -> None:
    """The attempt's device time for its org; a passed or failed one for its test too."""
    job = driver.job(job_id)
    began = driver.attempt_outcome(job_id, attempt)
    if job is None or began is None:
        return
    health.count_attempt(driver.conn, job.org_id, now - began[1], now)
    if outcome in (Outcome.PASSED, Outcome.FAILED):
        health.record_attempt(driver.conn, job, outcome is Outcome.PASSED, now - began[1],
                              error, cases, now)


def _device_passed(driver: SqlClaimDriver, job_id: str) -> None:
    job = driver.job(job_id)
    if job is not None and job.device_id is not None:
        fleet.device_succeeded(driver.conn, job.device_id)


def _count_lost_attempt(conn: Tx, job: Job, now: float) -> None:
    row = conn.run("attempt_by_number", {"job_id": job.job_id, "attempt": job.attempts}
    ).fetchone()
    if row is not None:
        health.count_attempt(conn, job.org_id, now - row["started_at"], now)


def heard_with(agent_row: Any, devices: list[Device]) -> tuple[Device, ...]:
    """A heartbeat reports every device of its agent but writes only those that changed:
    a device was last heard from when its agent was, if that is later."""
    seen = agent_row["last_seen_at"]
    return tuple(replace(d, last_seen_at=max(d.last_seen_at, seen)) for d in devices)
