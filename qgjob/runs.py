"""Runs on top of the job service: creating one, reading one with its per-test rows,
cancelling what it still has to do, and re-running its failed tests as a new, linked run.
Who may see or change a run is the API's business (qgjob/api/routes/runs.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from qgjob.domain.models import Job
from qgjob.domain.runs import NewRun, Run, RunRow, RunSource, failed_jobs, rows_of_run
from qgjob.ids import new_id
from qgjob.service import JobService
from qgjob.store.base import Conflict, RunCancelled, RunFilter, RunFinished, RunPage


class RunNotFinished(Conflict):
    code = "run_not_finished"


class NothingFailed(Conflict):
    code = "nothing_failed"


def check_takes_jobs(run: Run) -> None:
    """A run that was cancelled takes no new jobs (RunCancelled, a RunFinished): they would
    run anyway and turn it back to `running`. One that passed or failed still does: a
    retried `qgjob run` step submits its jobs into its run again (its keys find them), and
    several CI jobs may submit into one run (`qgjob submit --run`), one after another's jobs
    have finished. A cancelled run is one its cancel was asked for (`Run.was_cancelled`,
    stored on the run), whatever its status (derived from its jobs: `running` while a job
    whose cancel was requested still runs, `failed` if one failed); a run where only a job
    was cancelled on its own was not.

    This early check gives the clear answer cheaply; the one that holds when a submit races
    the run's cancel is the store's, in the transaction that inserts the jobs
    (qgjob/store/sql/runs.py `refuse_if_cancelled`)."""
    if run.was_cancelled:
        raise RunCancelled(run)


@dataclass(frozen=True)
class RunRequest:
    org_id: str
    app_version_id: str
    name: str | None = None
    """Default: the build's id."""
    source: RunSource = field(default_factory=RunSource)
    idempotency_key: str | None = None


@dataclass(frozen=True)
class _Again:
    """A failed job submitted again (a `JobRequest`)."""

    org_id: str
    app_version_id: str
    test_path: str
    target: str
    priority: int
    max_attempts: int | None
    idempotency_key: str | None = None

    @classmethod
    def of(cls, job: Job) -> _Again:
        return cls(job.org_id, job.app_version_id, job.test_path, job.target, job.priority,
                   job.max_attempts)


class RunService:
    def __init__(self, jobs: JobService) -> None:
        self.jobs = jobs
        self.store = jobs.store

    async def create(self, request: RunRequest) -> tuple[Run, bool]:
        """The run (empty until jobs are submitted into it), and whether it is new (False:
        its idempotency key found one)."""
        now = self.jobs.clock()
        run = NewRun(new_id(now), request.org_id, request.app_version_id,
                     request.name or request.app_version_id, now, request.source,
                     idempotency_key=request.idempotency_key)
        stored, _, created = await self.jobs.submit_run(run, [])
        return stored, created

    async def get(self, run_id: str) -> Run | None:
        return await self.jobs.store_call(self.store.get_run, run_id)

    async def page(self, query: RunFilter) -> RunPage:
        return await self.jobs.store_call(self.store.list_runs, query)

    async def rows(self, run_id: str) -> list[RunRow]:
        """Its tests, failures first."""
        jobs = await self.jobs.store_call(self.store.run_jobs, run_id)
        cases = await self.jobs.store_call(self.store.run_cases, run_id)
        return rows_of_run(jobs, dict(cases))

    async def cancel(self, run: Run) -> Run:
        """Cancel what it still has to do (running jobs stop within a heartbeat)."""
        if not run.counts.unfinished:
            raise RunFinished(f"run {run.run_id!r} has finished ({run.status}): nothing to "
                              "cancel")
        await self.jobs.store_call(self.store.cancel_run, run.run_id, self.jobs.clock())
        return await self.get(run.run_id) or run

    async def rerun_failed(self, run: Run, idempotency_key: str | None
                           ) -> tuple[Run, list[Job], bool]:
        """A new run of its failed tests only: attempt + 1, linked to `run`."""
        if run.counts.unfinished:
            raise RunNotFinished(f"run {run.run_id!r} is still {run.status}; re-run its "
                                 "failed tests once it has finished (or cancel it)")
        failed = failed_jobs(await self.jobs.store_call(self.store.run_jobs, run.run_id))
        if not failed:
            raise NothingFailed(f"run {run.run_id!r} has no failed tests to re-run")
        now = self.jobs.clock()
        again = NewRun(new_id(now), run.org_id, run.app_version_id, run.name, now,
                       run.source, rerun_of=run.run_id, attempt=run.attempt + 1,
                       idempotency_key=idempotency_key)
        return await self.jobs.submit_run(again, [_Again.of(job) for job in failed])
