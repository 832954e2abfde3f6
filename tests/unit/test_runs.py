"""A run's status from its counts, and its per-test rows failures first (pure)."""

from __future__ import annotations

import pytest

from qgjob.domain.models import CaseResult
from qgjob.domain.runs import RunCounts, failed_jobs, rows_of_run, run_status
from qgjob.domain.states import JobState
from tests.factories import make_job


@pytest.mark.parametrize(("counts", "status"), [
    (RunCounts(), "queued"),
    (RunCounts(queued=3), "queued"),
    (RunCounts(queued=2, running=1), "running"),
    (RunCounts(queued=2, passed=1), "running"),
    (RunCounts(passed=2, flaky=1), "passed"),
    (RunCounts(passed=2, cancelled=1), "cancelled"),
    (RunCounts(failed=1, cancelled=1, passed=3), "failed"),
])
def test_status_of_a_run(counts: RunCounts, status: str) -> None:
    assert run_status(counts) == status


def test_rows_put_failures_first_and_show_unfinished_jobs_whole() -> None:
    passed = make_job(job_id="p", test_path="a.js", state=JobState.COMPLETED)
    failed = make_job(job_id="f", test_path="z.js", state=JobState.FAILED)
    retrying = make_job(job_id="r", test_path="m.js", state=JobState.RETRY_WAIT)
    flaky = make_job(job_id="k", test_path="b.js", state=JobState.COMPLETED, flaky=True)
    cases = {"f": [CaseResult("ok", "passed", 1.0), CaseResult("bad", "failed", 1.0, "x")],
             "r": [CaseResult("earlier", "failed", 1.0)]}
    rows = rows_of_run([passed, failed, retrying, flaky], cases)
    assert [(r.job.job_id, r.case.title if r.case else None, r.result) for r in rows] == [
        ("f", "bad", "failed"), ("f", "ok", "passed"), ("k", None, "flaky"),
        ("r", None, "queued"), ("p", None, "passed")]
    assert failed_jobs([passed, failed, retrying]) == [failed]
