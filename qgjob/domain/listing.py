"""How a list of jobs is ordered and paged: newest first, or in the order claims take queued
jobs (qgjob/domain/queue_order.py); a page continues after the last job of the page before,
so a job submitted meanwhile neither repeats one nor hides one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from qgjob.domain.models import Job

JobOrder = Literal["newest", "claim"]
JOB_ORDERS: tuple[JobOrder, ...] = ("newest", "claim")


@dataclass(frozen=True)
class JobPosition:
    """A job's place in a listing: the columns either order sorts on."""

    priority: int
    created_at: float
    job_id: str

    @classmethod
    def of(cls, job: Job) -> JobPosition:
        return cls(job.priority, job.created_at, job.job_id)
