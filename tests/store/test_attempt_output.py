"""What attempts leave behind: output (the last 1 MiB), per-test results, report files."""

import pytest

from qgjob.domain.attempts import Outcome, Verdict
from qgjob.domain.models import AttemptFile, CaseResult
from qgjob.domain.states import JobState
from qgjob.store.base import LeaseLost, OutputGap, Store
from qgjob.store.sql.output import MAX_OUTPUT_CHARS
from tests.factories import T0, new_job
from tests.store.helpers import claim, finish, register, start


def running(store: Store) -> tuple[str, str]:
    [job] = store.insert_jobs([new_job()])
    agent = register(store)
    lease = claim(store, agent).batch.lease.lease_id  # type: ignore[union-attr]
    start(store, job.job_id, lease, T0 + 1)
    return job.job_id, lease


def test_output_is_kept_and_read_from_an_offset(store: Store) -> None:
    job_id, lease = running(store)
    store.append_output(job_id, lease, 1, "hello ")
    store.append_output(job_id, lease, 1, "world\n")
    part = store.read_output(job_id, None, 0)
    assert part is not None and (part.attempt, part.text, part.finished) == (1, "hello world\n",
                                                                             False)
    later = store.read_output(job_id, 1, 6)
    assert later is not None and later.text == "world\n" and later.next_offset == 12


def passes_with_tail(store: Store, job_id: str, lease: str, tail: str, offset: int) -> None:
    """The attempt passes, its report carrying the end of its output from `offset`."""
    store.finish_attempt(job_id, lease, 1, Outcome.PASSED, None, T0 + 9,
                         lambda job: Verdict(JobState.COMPLETED, None),
                         last_output=tail, output_offset=offset)


def test_a_chunk_sent_again_at_its_offset_is_kept_once(store: Store) -> None:
    job_id, lease = running(store)
    store.append_output(job_id, lease, 1, "line 1\n", offset=0)
    store.append_output(job_id, lease, 1, "line 1\n", offset=0)  # its answer was lost
    store.append_output(job_id, lease, 1, "line 1\nline 2\n", offset=0)  # partly held
    store.append_output(job_id, lease, 1, "line 3\n", offset=14)
    passes_with_tail(store, job_id, lease, "line 3\nline 4\n", 14)
    part = store.read_output(job_id, 1, 0)
    assert part is not None and part.text == "line 1\nline 2\nline 3\nline 4\n"


def test_a_chunk_past_the_end_is_refused_not_stored_after_a_hole(store: Store) -> None:
    job_id, lease = running(store)
    with pytest.raises(OutputGap) as gap:
        store.append_output(job_id, lease, 1, "gap", offset=5)
    assert gap.value.held == 0 and gap.value.code == "output_gap"
    store.append_output(job_id, lease, 1, "hello", offset=0)
    store.append_output(job_id, lease, 1, "lo world", offset=3)  # overlaps: the new part
    with pytest.raises(OutputGap) as gap:
        store.append_output(job_id, lease, 1, "!", offset=12)
    assert gap.value.held == 11 and "send again from offset 11" in str(gap.value)
    part = store.read_output(job_id, 1, 0)
    assert part is not None and part.text == "hello world"


def test_a_reports_output_past_the_end_is_kept_all_the_same(store: Store) -> None:
    """The report's end of output comes after sends that failed: its result must not be
    refused for a gap, and what it carries is the best the server will get."""
    job_id, lease = running(store)
    store.append_output(job_id, lease, 1, "start\n", offset=0)
    passes_with_tail(store, job_id, lease, "end\n", 50)
    part = store.read_output(job_id, 1, 0)
    assert part is not None and part.text == "start\nend\n"


def test_offsets_count_what_was_dropped_from_the_front(store: Store) -> None:
    job_id, lease = running(store)
    store.append_output(job_id, lease, 1, "a" * MAX_OUTPUT_CHARS, offset=0)
    store.append_output(job_id, lease, 1, "b" * 10, offset=MAX_OUTPUT_CHARS)
    store.append_output(job_id, lease, 1, "b" * 10, offset=MAX_OUTPUT_CHARS)
    part = store.read_output(job_id, 1, MAX_OUTPUT_CHARS)
    assert part is not None and part.text == "b" * 10 and part.dropped == 10


def test_only_the_last_mebibyte_is_kept(store: Store) -> None:
    job_id, lease = running(store)
    store.append_output(job_id, lease, 1, "a" * (MAX_OUTPUT_CHARS - 10))
    store.append_output(job_id, lease, 1, "b" * 30)
    part = store.read_output(job_id, 1, 0)
    assert part is not None
    assert len(part.text) == MAX_OUTPUT_CHARS and part.dropped == 20
    assert part.text.endswith("b" * 30) and part.next_offset == MAX_OUTPUT_CHARS + 20


def test_a_stale_agent_cannot_write(store: Store) -> None:
    job_id, lease = running(store)
    finish(store, job_id, lease, 1, Outcome.PASSED, T0 + 5)
    with pytest.raises(LeaseLost):
        store.append_output(job_id, lease, 1, "late")
    with pytest.raises(LeaseLost):
        store.save_file(job_id, lease, 1, AttemptFile("r.json", "application/json", b"{}"))
    part = store.read_output(job_id, 1, 0)
    assert part is not None and part.finished and part.text == ""


def test_results_and_files_stay_with_the_attempt(store: Store) -> None:
    job_id, lease = running(store)
    store.save_file(job_id, lease, 1, AttemptFile("junit.xml", "application/xml", b"<x/>"))
    cases = [CaseResult("logs in", "passed", 1.5), CaseResult("rejects a bad password",
                                                              "failed", 2.0, "expected 401")]
    store.finish_attempt(job_id, lease, 1, Outcome.FAILED, "1 failed", T0 + 9,
                         lambda job: Verdict(JobState.FAILED, "1 failed"), cases)
    assert store.last_cases(job_id) == cases
    assert store.list_files(job_id) == [(1, "junit.xml", "application/xml", 4)]
    file = store.read_file(job_id, 1, "junit.xml")
    assert file is not None and file.content == b"<x/>"
    assert store.read_file(job_id, 2, "junit.xml") is None
