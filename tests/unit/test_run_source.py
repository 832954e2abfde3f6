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
