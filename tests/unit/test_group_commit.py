"""Group commit: submits that arrive while one transaction is written share the next one;
each request still gets exactly its own jobs, and a request at fault fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from qgjob.domain.models import Job, NewJob
from qgjob.domain.states import JobState
from qgjob.group_commit import GroupCommit
from qgjob.store.base import Conflict, WritesRefused
from tests.factories import new_job


class Writer:
    """Stores jobs like a store would, one transaction per call; a test path of "bad" makes
    the whole transaction fail."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.refusing = False
        """The store refuses every write (a full disk)."""

    async def __call__(self, jobs: Sequence[NewJob]) -> list[Job]:
        await self.release.wait()
        await asyncio.sleep(0)
        if self.refusing:
            self.transactions.append([])
            raise WritesRefused("disk full")
        if any(job.test_path == "bad" for job in jobs):
            self.transactions.append([])
            raise Conflict("bad job")
        self.transactions.append([job.job_id for job in jobs])
        return [Job(job_id=j.job_id, org_id=j.org_id, app_version_id=j.app_version_id,
                    test_path=j.test_path, target=j.target, priority=j.priority,
                    group_key=j.group_key, state=JobState.QUEUED, attempts=0,
                    max_attempts=j.max_attempts, infra_failures=0, created_at=j.created_at,
                    updated_at=j.created_at) for j in jobs]


def test_a_lone_submit_is_written_at_once() -> None:
    async def scenario() -> None:
        writer = Writer()
        commit = GroupCommit(writer)
        [job] = await commit.submit([new_job(job_id="solo")])
        assert job.job_id == "solo" and writer.transactions == [["solo"]]
    asyncio.run(scenario())


def test_submits_waiting_on_a_transaction_share_the_next_one() -> None:
    async def scenario() -> None:
        writer = Writer()
        commit = GroupCommit(writer)
        writer.release.clear()
        first = asyncio.create_task(commit.submit([new_job(job_id="a1")]))
        await asyncio.sleep(0)
        rest = [asyncio.create_task(commit.submit([new_job(job_id=f"b{i}"),
                                                   new_job(job_id=f"c{i}")]))
                for i in range(3)]
        await asyncio.sleep(0)
        writer.release.set()
        assert [j.job_id for j in await first] == ["a1"]
        answers = await asyncio.gather(*rest)
        assert [[j.job_id for j in jobs] for jobs in answers] == [
            ["b0", "c0"], ["b1", "c1"], ["b2", "c2"]]
        assert writer.transactions == [["a1"], ["b0", "c0", "b1", "c1", "b2", "c2"]]
    asyncio.run(scenario())


def test_a_request_at_fault_fails_alone() -> None:
    async def scenario() -> None:
        writer = Writer()
        commit = GroupCommit(writer)
        writer.release.clear()
        blocker = asyncio.create_task(commit.submit([new_job(job_id="x")]))
        await asyncio.sleep(0)
        good = asyncio.create_task(commit.submit([new_job(job_id="g1")]))
        bad = asyncio.create_task(commit.submit([new_job(job_id="b1", test_path="bad")]))
        also_good = asyncio.create_task(commit.submit([new_job(job_id="g2")]))
        await asyncio.sleep(0)
        writer.release.set()
        await blocker
        assert [j.job_id for j in await good] == ["g1"]
        assert [j.job_id for j in await also_good] == ["g2"]
        with pytest.raises(Conflict):
            await bad
        # the combined try failed as a whole; then each request went in on its own
        assert writer.transactions == [["x"], [], ["g1"], [], ["g2"]]
    asyncio.run(scenario())


def test_a_transaction_takes_requests_up_to_its_size() -> None:
    async def scenario() -> None:
        writer = Writer()
        commit = GroupCommit(writer, max_jobs=3)
        writer.release.clear()
        tasks = [asyncio.create_task(commit.submit([new_job(job_id=f"j{i}"),
                                                    new_job(job_id=f"k{i}")]))
                 for i in range(3)]
        await asyncio.sleep(0)
        writer.release.set()
        await asyncio.gather(*tasks)
        assert writer.transactions == [["j0", "k0"], ["j1", "k1"], ["j2", "k2"]]
    asyncio.run(scenario())



def test_a_store_failure_releases_every_request_of_the_group_and_the_next_write_works(
) -> None:
    async def scenario() -> None:
        writer = Writer()
        commit = GroupCommit(writer)
        writer.release.clear()
        blocker = asyncio.create_task(commit.submit([new_job(job_id="x")]))
        await asyncio.sleep(0)
        waiting = [asyncio.create_task(commit.submit([new_job(job_id=f"w{i}")]))
                   for i in range(4)]
        await asyncio.sleep(0)
        writer.refusing = True  # the disk filled up while x was written
        writer.release.set()
        results = await asyncio.wait_for(
            asyncio.gather(blocker, *waiting, return_exceptions=True), 5)
        assert all(isinstance(r, WritesRefused) for r in results), results
        # one try for x, one for the four together: none was tried again on its own
        assert writer.transactions == [[], []]
        writer.refusing = False  # space again
        [job] = await asyncio.wait_for(commit.submit([new_job(job_id="after")]), 5)
        assert job.job_id == "after"
    asyncio.run(scenario())
