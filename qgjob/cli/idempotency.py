"""Idempotency keys for submissions, so a retried CI step finds its jobs instead of queueing
them twice. Each job gets its own key, derived from one key for the whole submission."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence


def github_run_key(environ: Mapping[str, str]) -> str | None:
    """Inside GitHub Actions: the run and its attempt (a re-run of the workflow tests again;
    a retried step within one attempt does not)."""
    if environ.get("GITHUB_ACTIONS") != "true" or not environ.get("GITHUB_RUN_ID"):
        return None
    parts = ("github", environ.get("GITHUB_REPOSITORY", ""), environ["GITHUB_RUN_ID"],
             environ.get("GITHUB_RUN_ATTEMPT", "1"), environ.get("GITHUB_JOB", ""))
    return ":".join(parts)


def job_keys(
    key: str | None, app_version_id: str, target: str, tests: Sequence[str],
    environ: Mapping[str, str] | None = None, asked: Sequence[object] = (),
) -> list[str | None]:
    """One key per test: a digest of the submission's key, the build, the target and the
    test, so it fits the server's 200 characters whatever the paths. The keys of one
    submission share their first characters (a digest of all but the test): the server's
    index of keys then takes them in one place rather than on a thousand pages at random,
    which made a 1,000-test submit half again as slow and grew with the table.

    Without a key of the user's, the one GitHub Actions' variables make also digests `asked`
    (the priority and attempts as given): two steps of one job that submit the same tests at
    other priorities (a smoke step, then the suite) are two submissions, where the server
    would refuse the second's keys as reused (409). A key the user gives names one
    submission whatever it asks: sent again asking otherwise, the server says so."""
    environ = os.environ if environ is None else environ
    base = key or github_run_key(environ)
    if base is None:
        return [None] * len(tests)
    parts = (base, app_version_id, target) if key else \
        (base, app_version_id, target, *("-" if part is None else str(part) for part in asked))
    submission = "\n".join(parts)
    shared = "qg-" + _digest(submission)[:16] + "-"
    return [shared + _digest(f"{submission}\n{test}")[:24] for test in tests]


def run_key(key: str | None, *parts: str) -> str | None:
    """The key of the run a submission makes, from the same key as its jobs' (so a retried
    step finds its run too): None without one."""
    base = key or github_run_key(os.environ)
    return None if base is None else "qg-run-" + _digest("\n".join((base, *parts)))[:32]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
