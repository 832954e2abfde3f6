"""Failure evidence as the API sees it: an agent uploads an attempt's files while it holds
the attempt's lease, anyone who may see the job reads them, and the maintenance pass removes
them after the retention. The artifact store does the keeping; this checks who may write
and when, and runs the store's blocking I/O off the event loop."""

from __future__ import annotations

import logging

from anyio import to_thread

from qgjob.artifacts import ArtifactEntry, ArtifactStore, AttemptArtifacts
from qgjob.service import JobService

log = logging.getLogger("qgjob.evidence")

SWEEP_SECONDS = 600.0
"""The retention is days long: a sweep every ten minutes is plenty, and walking a shared
mount every maintenance pass is not free."""


class EvidenceService:
    def __init__(self, jobs: JobService, store: ArtifactStore, retention_days: float) -> None:
        self.jobs = jobs
        self.store = store
        self.retention_seconds = retention_days * 86_400
        self._swept_at = float("-inf")

    async def room(self, agent_id: str, job_id: str, lease_id: str, attempt: int) -> int:
        """Bytes the attempt may still store, once the caller is known to hold it
        (LeaseLost otherwise)."""
        await self.jobs.check_running_attempt(agent_id, job_id, lease_id, attempt)
        return await to_thread.run_sync(self.store.room, job_id, attempt)

    async def save(self, job_id: str, attempt: int, name: str, content: bytes,
                   test: str | None) -> ArtifactEntry:
        now = self.jobs.clock()
        return await to_thread.run_sync(
            lambda: self.store.save(job_id, attempt, name, content, test=test, now=now))

    async def drop(self, job_id: str, attempt: int, name: str, size: int, reason: str,
                   test: str | None) -> None:
        now = self.jobs.clock()
        await to_thread.run_sync(
            lambda: self.store.drop(job_id, attempt, name, size, reason, test=test, now=now))

    async def attempts(self, job_id: str) -> list[AttemptArtifacts]:
        return await to_thread.run_sync(self.store.attempts, job_id)

    async def read(self, job_id: str, attempt: int,
                   name: str) -> tuple[ArtifactEntry, bytes] | None:
        return await to_thread.run_sync(self.store.read, job_id, attempt, name)

    async def sweep_due(self, now: float) -> None:
        """The maintenance pass's hook: evidence past the retention goes."""
        if now - self._swept_at < SWEEP_SECONDS:
            return
        self._swept_at = now
        removed = await to_thread.run_sync(self.store.sweep, now - self.retention_seconds)
        if removed:
            log.info("removed the evidence of %d attempt(s) past the retention", removed)
