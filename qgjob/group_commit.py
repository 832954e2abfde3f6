"""Group commit for submits: requests that arrive while a submit transaction is being written
go in together in the next one.

Every submit must be durable before it is answered, and with SQLite (synchronous=FULL) or
PostgreSQL the commit's flush to disk is most of a small submit's cost. Under a CI burst many
submits wait on the same writer, so one transaction per request spends the disk's flushes on
one job each. Here at most one submit transaction is in flight; whatever arrives meanwhile is
written by the next one, as a single batch, and each request is answered with its own jobs
once that transaction has committed. A lone submit is written at once, so an idle server
answers as fast as before. (SQLite's writer also shares commits between any writes queued on
it, see qgjob/store/sqlite/connection.py; here submits share more: one multi-row insert and
one counter update per lane, and PostgreSQL, which has no such writer, gets the same.)

A request's jobs are still all stored or none: if a combined transaction fails (say one
request reuses an idempotency key for another test), each of its requests is written again on
its own, so only the request at fault gets the error. When the store itself fails (the
database is unreachable or refuses writes), no request is at fault: every request of the
group gets that error at once, rather than each waiting for a transaction of its own that
would fail the same way. Requests are combined in arrival order,
so an idempotency key two of them share names the first one's job, as if they ran one after
the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from qgjob.domain.models import Job, NewJob
from qgjob.store.base import StoreUnavailable

Write = Callable[[Sequence[NewJob]], Awaitable[list[Job]]]

MAX_JOBS_PER_TRANSACTION = 5000
"""A combined transaction takes waiting requests up to about this many jobs (a request is
never split); the rest go in the next one."""


@dataclass
class _Pending:
    jobs: Sequence[NewJob]
    answer: asyncio.Future[list[Job]]


class GroupCommit:
    def __init__(self, write: Write, max_jobs: int = MAX_JOBS_PER_TRANSACTION) -> None:
        self._write = write
        self._max_jobs = max_jobs
        self._waiting: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, jobs: Sequence[NewJob]) -> list[Job]:
        """The stored jobs, in order, once the transaction holding them has committed."""
        pending = _Pending(jobs, asyncio.get_running_loop().create_future())
        self._waiting.append(pending)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all())
        return await pending.answer

    async def _write_all(self) -> None:
        group: list[_Pending] = []
        try:
            while self._waiting:
                group = self._next_group()
                try:
                    stored = await self._write([job for p in group for job in p.jobs])
                except StoreUnavailable as error:
                    for pending in group:
                        _settle(pending, error=error)
                    continue
                except Exception as error:
                    if len(group) == 1:
                        _settle(group[0], error=error)
                    else:
                        await self._write_each(group)
                    continue
                start = 0
                for pending in group:
                    _settle(pending, stored[start:start + len(pending.jobs)])
                    start += len(pending.jobs)
        except BaseException:  # cancelled (shutdown): nobody may wait for ever
            for pending in group + self._waiting:
                pending.answer.cancel()
            self._waiting.clear()
            raise
        finally:
            self._writer = None

    def _next_group(self) -> list[_Pending]:
        group = [self._waiting[0]]
        size = len(group[0].jobs)
        for pending in self._waiting[1:]:
            if size + len(pending.jobs) > self._max_jobs:
                break
            group.append(pending)
            size += len(pending.jobs)
        del self._waiting[:len(group)]
        return group

    async def _write_each(self, group: list[_Pending]) -> None:
        for pending in group:
            try:
                _settle(pending, await self._write(pending.jobs))
            except Exception as error:
                _settle(pending, error=error)


def _settle(pending: _Pending, jobs: list[Job] | None = None, *,
            error: BaseException | None = None) -> None:
    if pending.answer.done():
        return
    if error is not None:
        pending.answer.set_exception(error)
    else:
        assert jobs is not None
        pending.answer.set_result(jobs)
