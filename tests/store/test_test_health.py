"""The storage contract for test health: finished attempts folded into each test's summary,
read back sorted and scoped; the evidence a retry decision reads; quarantine; retention."""

from collections.abc import Sequence
from dataclasses import replace

import pytest

from qgjob.domain.attempts import Outcome, Verdict, after_attempt
from qgjob.domain.health import Health, TestQuery, classify
from qgjob.domain.models import CaseResult, Job
from qgjob.domain.states import JobState
from qgjob.store.base import DecideAttempt, Store
from tests.factories import T0, new_job
from tests.store.helpers import RETRY, claim, register, start

THRESHOLD = 0.1


def run_job(store: Store, agent: str, outcomes: Sequence[Outcome], *, build: str = "b1",
            test: str = "tests/a.spec.js", org: str = "qualgent", at: float = T0,
            device: str = "emulator-1", error: str = "expected 1, got 2",
            cases: Sequence[CaseResult] = ()) -> str:
    """One job of `test` on `build`, its attempts ending as `outcomes` say (5 s each)."""
    [job] = store.insert_jobs([new_job(org_id=org, app_version_id=build, test_path=test,
                                       at=at, max_attempts=len(outcomes))])
    for n, outcome in enumerate(outcomes):
        begin = at + 100 * n
        store.promote_due_retries(begin)
        batch = claim(store, agent, device, at=begin).batch
        assert batch is not None and batch.jobs[0].job_id == job.job_id
        attempt = start(store, job.job_id, batch.lease.lease_id, begin).attempts
        store.finish_attempt(
            job.job_id, batch.lease.lease_id, attempt, outcome,
            None if outcome is Outcome.PASSED else error, begin + 5,
            _decide(outcome, error, begin + 5), cases)
    return job.job_id


def _decide(outcome: Outcome, error: str, at: float) -> DecideAttempt:
    reported = None if outcome is Outcome.PASSED else error
    return lambda job: after_attempt(job, outcome, reported, at, RETRY, 0.5)


def health_of(store: Store, **query: object) -> dict[str, Health]:
    rows = store.test_health(TestQuery(**query))  # type: ignore[arg-type]
    return {f"{r.summary.key.test_path}#{r.summary.key.title}" if r.summary.key.title
            else r.summary.key.test_path: classify(r.summary, THRESHOLD) for r in rows}


P, F = Outcome.PASSED, Outcome.FAILED


def test_synthetic_histories_are_told_apart(store: Store) -> None:
    agent = register(store)
    at = T0
    for build, outcomes in [("b1", [F, P]), ("b2", [P])]:  # passed and failed on b1
        run_job(store, agent, outcomes, build=build, test="flaky.spec.js", at=at)
        at += 1000
    for build in ("b1", "b2", "b3"):  # fails on every build, on every attempt
        run_job(store, agent, [F, F, F], build=build, test="broken.spec.js", at=at)
        at += 1000
    for build, outcome in [("b1", F), ("b2", F), ("b3", P), ("b4", P), ("b5", P)]:
        run_job(store, agent, [outcome] if outcome is P else [F, F, F], build=build,
                test="fixed.spec.js", at=at)
        at += 1000
    run_job(store, agent, [P], build="b5", test="new.spec.js", at=at)
    for build in ("b1", "b2", "b3"):
        run_job(store, agent, [P], build=build, test="healthy.spec.js", at=at)
        at += 1000
    assert health_of(store, org_id="qualgent", sort="name") == {
        "broken.spec.js": Health.BROKEN, "fixed.spec.js": Health.FIXED,
        "flaky.spec.js": Health.FLAKY, "healthy.spec.js": Health.HEALTHY,
        "new.spec.js": Health.NEW}


def test_a_summary_counts_runs_builds_durations_and_the_last_failure(store: Store) -> None:
    agent = register(store)
    job_id = run_job(store, agent, [F, P], build="b1", error="timeout waiting for #login")
    run_job(store, agent, [P], build="b2", at=T0 + 1000)
    [row] = store.test_health(TestQuery(org_id="qualgent"))
    s = row.summary
    assert (s.runs, s.passed, s.failed, s.recent) == (3, 2, 1, "FPP")
    assert (s.builds, s.flaky_builds, s.flaky_score) == (2, 1, 0.5)
    assert (s.p50_seconds, s.p95_seconds) == (5.0, 5.0)
    assert (s.last_error, s.last_failure_job_id, s.last_failure_app_version_id) == (
        "timeout waiting for #login", job_id, "b1")
    assert (s.first_seen, s.last_seen) == (T0 + 5, T0 + 1005)
    assert not row.quarantined


def test_cases_named_by_a_report_get_their_own_rows(store: Store) -> None:
    agent = register(store)
    cases = [CaseResult("logs in", "passed", 1.5), CaseResult("logs out", "failed", 2.0, "boom"),
             CaseResult("skipped one", "skipped", 0.0)]
    run_job(store, agent, [F], cases=cases)
    assert health_of(store, cases=True, sort="name") == {
        "tests/a.spec.js": Health.NEW, "tests/a.spec.js#logs in": Health.NEW,
        "tests/a.spec.js#logs out": Health.NEW}
    assert list(health_of(store)) == ["tests/a.spec.js"]


def test_listing_is_scoped_filtered_and_sorted(store: Store) -> None:
    agent = register(store)
    run_job(store, agent, [F, F, F], test="slow.spec.js", org="acme")
    run_job(store, agent, [P], test="quick.spec.js", at=T0 + 1000)
    assert list(health_of(store, org_id="acme")) == ["slow.spec.js"]
    assert list(health_of(store, sort="failing")) == ["slow.spec.js", "quick.spec.js"]
    assert list(health_of(store, sort="recent")) == ["quick.spec.js", "slow.spec.js"]
    assert list(health_of(store, sort="name", limit=1)) == ["quick.spec.js"]
    assert health_of(store, org_id="nobody") == {}
    assert list(health_of(store, test_path="slow.spec.js")) == ["slow.spec.js"]


def test_failure_evidence_names_earlier_failures_on_the_build(store: Store) -> None:
    agent = register(store)
    failed = run_job(store, agent, [F], build="b1", error="expected 1, got 2")
    run_job(store, agent, [P], build="b2", at=T0 + 1000)
    probes = store.insert_jobs([new_job(app_version_id=build, test_path="tests/a.spec.js",
                                        at=T0 + 2000) for build in ("b1", "b2")])
    on_b1, on_b2 = (store.failure_evidence(p.job_id, THRESHOLD) for p in probes)
    assert [(f.job_id, f.attempt, f.device_id, f.error) for f in on_b1.failures] == [
        (failed, 1, "lab/emulator-1", "expected 1, got 2")]
    assert not on_b1.passed_on_build and not on_b1.known_flaky
    assert on_b2.failures == () and on_b2.passed_on_build


def test_an_attempt_not_retried_says_why(store: Store) -> None:
    agent = register(store)
    [job] = store.insert_jobs([new_job()])
    batch = claim(store, agent, at=T0).batch
    assert batch is not None
    start(store, job.job_id, batch.lease.lease_id, T0)

    def decide(job: Job) -> Verdict:
        return Verdict(JobState.FAILED, error="boom", note="not retried: because")

    store.finish_attempt(job.job_id, batch.lease.lease_id, 1, Outcome.FAILED, "boom", T0 + 1,
                         decide)
    [attempt] = store.job_attempts(job.job_id)
    assert (attempt.outcome, attempt.note) == ("failed", "not retried: because")


def test_quarantine_per_org(store: Store) -> None:
    entry, made = store.quarantine_test("acme", "tests/a.spec.js", "flaky login", "tok1", T0)
    assert made and (entry.reason, entry.added_by, entry.added_at) == ("flaky login", "tok1", T0)
    again, made = store.quarantine_test("acme", "tests/a.spec.js", "other", None, T0 + 1)
    assert not made and again == replace(entry, reason="other")
    store.quarantine_test("zeta", "tests/b.spec.js", "", None, T0)
    assert [q.test_path for q in store.quarantined_tests("acme", 100)] == ["tests/a.spec.js"]
    assert [q.org_id for q in store.quarantined_tests(None, 100)] == ["acme", "zeta"]
    agent = register(store)
    run_job(store, agent, [P], org="acme")
    [row] = store.test_health(TestQuery(org_id="acme"))
    assert row.quarantined
    assert store.unquarantine_test("acme", "tests/a.spec.js")
    assert not store.unquarantine_test("acme", "tests/a.spec.js")
    assert store.quarantined_tests("acme", 100) == []


def test_quarantining_again_takes_the_new_reason(store: Store) -> None:
    """It kept the first reason, so a reason could not be corrected; None (a body without
    one) keeps it, "" clears it, and who added the entry and when stay."""
    first, _ = store.quarantine_test("acme", "tests/a.spec.js", None, "tok1", T0)
    assert first.reason == ""
    for reason, kept in [("flaky login", "flaky login"), (None, "flaky login"), ("", "")]:
        entry, made = store.quarantine_test("acme", "tests/a.spec.js", reason, "tok2", T0 + 1)
        assert not made and entry == replace(first, reason=kept)
        assert store.quarantined_tests("acme", 10) == [entry]


@pytest.mark.parametrize(("before", "left"), [(T0, 1), (T0 + 10_000, 0)])
def test_retention_forgets_tests_not_seen(store: Store, before: float, left: int) -> None:
    agent = register(store)
    run_job(store, agent, [P])
    store.prune_test_history(before)
    assert len(store.test_health(TestQuery())) == left


def test_org_stats_count_jobs_device_time_and_queue_waits(store: Store) -> None:
    agent = register(store)
    run_job(store, agent, [F, P], org="acme")                 # flaky: passed on a retry
    run_job(store, agent, [F], org="acme", at=T0 + 1000)      # failed
    run_job(store, agent, [P], org="zeta", at=T0 + 2000)
    [cancelled] = store.insert_jobs([new_job(org_id="acme", at=T0 + 3000)])
    store.cancel_job(cancelled.job_id, T0 + 3001)
    [acme] = store.org_stats("acme", T0)
    assert (acme.completed, acme.failed, acme.cancelled, acme.flaky) == (1, 1, 1, 1)
    assert (acme.attempts, acme.device_seconds) == (3, 15.0)
    assert (acme.success_rate, acme.flaky_rate) == (0.5, 1.0)
    assert (acme.wait_p50_seconds, acme.wait_p95_seconds) == (1.0, 1.0)  # started at once
    assert [s.org_id for s in store.org_stats(None, T0)] == ["acme", "zeta"]
    assert store.org_stats("acme", T0 + 86400) == []


def test_old_hours_roll_up_into_days_and_sum_the_same(store: Store) -> None:
    agent = register(store)
    day = 86400.0
    start_of_day = T0 - T0 % day
    for n in range(3):  # three jobs in three hours of one day, two days back
        run_job(store, agent, [P], org="acme", at=start_of_day - 2 * day + n * 3600 + 60)
    before = store.org_stats("acme", start_of_day - 3 * day)
    assert before[0].completed == 3 and before[0].attempts == 3
    assert store.roll_up_org_hours(start_of_day) == 4  # two hours' rows of each table
    assert store.org_stats("acme", start_of_day - 3 * day) == before
    assert store.roll_up_org_hours(start_of_day) == 0
