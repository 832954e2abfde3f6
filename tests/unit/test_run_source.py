"""The name and source `qgjob run` gives its run inside GitHub Actions."""

from __future__ import annotations

import pytest

from qgjob.cli.run_source import github_run_number, github_source, run_name

ACTIONS = {"GITHUB_ACTIONS": "true", "GITHUB_WORKFLOW": "AppWright tests",
           "GITHUB_REPOSITORY": "acme/app", "GITHUB_RUN_ID": "11223344556",
           "GITHUB_REF_NAME": "main", "GITHUB_SHA": "abc123def4567890"}


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"GITHUB_RUN_NUMBER": "7"}, "AppWright tests #7 · main · abc123de"),
        ({"GITHUB_RUN_NUMBER": "7", "GITHUB_RUN_ATTEMPT": "2"},
         "AppWright tests #7 (attempt 2) · main · abc123de"),
        ({}, "AppWright tests run 11223344556 · main · abc123de"),  # no number: the id
        ({"GITHUB_RUN_NUMBER": "seven"}, "AppWright tests run 11223344556 · main · abc123de"),
    ],
)
def test_a_run_is_named_by_the_number_github_shows(changes: dict[str, str], name: str) -> None:
    environ = {**ACTIONS, **changes}
    source = github_source(environ)
    assert run_name(None, source, "v1", github_run_number(environ)) == name
    assert source is not None and source["ci_run_id"] == "11223344556"  # the URL's id stays
    assert source["url"] == "https://github.com/acme/app/actions/runs/11223344556"


def test_a_given_name_or_no_github_wins_over_the_run_number() -> None:
    assert run_name("nightly", github_source(ACTIONS), "v1", 7) == "nightly"
    assert run_name(None, None, "v1", github_run_number({"GITHUB_RUN_NUMBER": "7"})) == "v1"


@pytest.mark.parametrize("branch", ["fix-\u202eexe.txt", "a\u0085b", "x\u2028y", "t\x07ab",
                                    "f\u2066oo"])
def test_a_branch_the_server_would_refuse_is_cleaned_to_what_it_takes(branch: str) -> None:
    """Git allows these in a ref name, and a fork chooses its branch: the run's name and
    source must still be one line the server takes (`limits.ONE_LINE_PATTERN`), or the
    whole CI step fails on a 422."""
    from pydantic import TypeAdapter

    from qgjob.protocol.runs import RunCreate

    environ = {**ACTIONS, "GITHUB_HEAD_REF": branch, "GITHUB_RUN_NUMBER": "7"}
    source = github_source(environ)
    assert source is not None
    TypeAdapter(RunCreate).validate_python({
        "org_id": "acme", "app_version_id": "v1", "source": source,
        "name": run_name(None, source, "v1", github_run_number(environ))})
