"""Listing jobs a page at a time, on every store: newest first or in claim order, each page
continuing after the last job of the one before; a search in build ids and test paths; a
queued job's place within its lane."""

from dataclasses import replace

from qgjob.domain.listing import JobPosition
from qgjob.store.base import JobFilter, Store
from tests.factories import T0, new_job
from tests.store.helpers import claim, register


def pages(store: Store, query: JobFilter) -> list[list[str]]:
    """Every page of the listing, following each page's last job."""
    found: list[list[str]] = []
    while True:
        jobs = store.list_jobs(query)
        if not jobs:
            return found
        found.append([job.job_id for job in jobs])
        query = replace(query, after=JobPosition.of(jobs[-1]))


def test_pages_newest_first_cover_every_job_once_with_ties_on_the_submit_time(
        store: Store) -> None:
    # Two share each submit time: the id breaks the tie, so no page repeats or skips one.
    store.insert_jobs([new_job(job_id=f"j{n}", at=T0 + n // 2) for n in range(7)])
    assert pages(store, JobFilter(limit=3)) == [["j6", "j5", "j4"], ["j3", "j2", "j1"], ["j0"]]


def test_a_job_submitted_between_pages_does_not_shift_the_next_page(store: Store) -> None:
    store.insert_jobs([new_job(job_id=f"j{n}", at=T0 + n) for n in range(4)])
    first = store.list_jobs(JobFilter(limit=2))
    store.insert_jobs([new_job(job_id="late", at=T0 + 10)])
    second = store.list_jobs(JobFilter(limit=2, after=JobPosition.of(first[-1])))
    assert [j.job_id for j in first + second] == ["j3", "j2", "j1", "j0"]


def test_claim_order_is_priority_then_oldest_then_id(store: Store) -> None:
    store.insert_jobs([
        new_job(job_id="low-old", priority=1, at=T0),
        new_job(job_id="high-new", priority=5, at=T0 + 5),
        new_job(job_id="mid-b", priority=3, at=T0 + 1),
        new_job(job_id="mid-a", priority=3, at=T0 + 1),
        new_job(job_id="mid-old", priority=3, at=T0),
        new_job(job_id="high-old", priority=5, at=T0 + 1),
    ])
    order = ["high-old", "high-new", "mid-old", "mid-a", "mid-b", "low-old"]
    assert [j.job_id for j in store.list_jobs(JobFilter(order="claim"))] == order
    for limit in (4, 1):
        listed = pages(store, JobFilter(order="claim", limit=limit))
        assert [job_id for page in listed for job_id in page] == order


def test_the_search_matches_part_of_a_build_or_a_test_in_any_case(store: Store) -> None:
    store.insert_jobs([
        new_job(job_id="a", app_version_id="Release-2.4", test_path="tests/login.spec.js"),
        new_job(job_id="b", app_version_id="nightly", test_path="tests/Checkout/pay.spec.js"),
        new_job(job_id="c", app_version_id="rc_1", test_path="tests/100%.spec.js"),
    ])

    def matching(text: str, **more: str) -> set[str]:
        return {j.job_id for j in store.list_jobs(JobFilter(search=text, **more))}

    assert matching("RELEASE") == {"a"}
    assert matching("checkout") == {"b"}
    assert matching("spec") == {"a", "b", "c"}
    assert matching("_") == {"c"} and matching("%") == {"c"}  # taken literally
    assert matching("spec", app_version_id="nightly") == {"b"}  # with the other filters


def test_jobs_ahead_in_a_lane_count_what_claims_take_first(store: Store) -> None:
    store.insert_jobs([
        new_job(job_id="first", priority=4, at=T0 + 2),
        new_job(job_id="second", priority=3, at=T0),
        new_job(job_id="third", priority=3, at=T0 + 1),
        new_job(job_id="other-org", org_id="acme", priority=5, at=T0 + 5),  # another lane
        new_job(job_id="other-build", app_version_id="v2", priority=5, at=T0),
    ])
    jobs = {j.job_id: j for j in store.list_jobs(JobFilter())}
    assert [store.jobs_ahead_in_lane(jobs[name]) for name in ("first", "second", "third")] \
        == [0, 1, 2]
    taken = claim(store, register(store), holds="xyz123", at=T0 + 3)
    assert taken.batch is not None
    assert {j.job_id for j in taken.batch.jobs} == {"first", "second", "third"}
    [fourth] = store.insert_jobs([new_job(job_id="fourth", priority=1, at=T0 + 4)])
    assert store.jobs_ahead_in_lane(fourth) == 0  # those in a batch are no longer in line
