"""The AppWright executor's command line and how it reads Playwright's JSON report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qgjob.agent.executors.appwright import AppWrightExecutor, judge
from qgjob.domain.attempts import Outcome

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "appwright"


def executor(**kwargs: object) -> AppWrightExecutor:
    return AppWrightExecutor(EXAMPLE, **kwargs)  # type: ignore[arg-type]


def test_the_file_argument_is_an_anchored_escaped_pattern() -> None:
    pattern = executor().file_pattern("tests/login.spec.js")
    assert pattern == "^" + re.escape(str(EXAMPLE / "tests" / "login.spec.js")) + "$"
    spaced = executor().file_pattern("tests/my login.spec.js")
    assert " " not in spaced and "my\\slogin" in spaced  # AppWright splits arguments on spaces


def test_the_command_line(tmp_path: Path) -> None:
    argv = executor(projects={"emulator": "pixel"}).command("tests/a.spec.js", "pixel", tmp_path)
    assert argv[:3] == ["npx", "appwright", "test"]
    assert argv[4:6] == ["--project", "pixel"]  # two words, after the file
    assert {"--workers=1", "--retries=0", "--reporter=list,json,junit"} <= set(argv)


def test_the_build_reaches_the_suite_through_a_template() -> None:
    assert executor(build_template="builds/{app_version_id}.apk").build_for("v7") == \
        "builds/v7.apk"
    assert executor().build_for("bs://abc") == "bs://abc"
    with pytest.raises(ValueError, match="app_version_id"):
        executor(build_template="builds/app.apk")
    with pytest.raises(ValueError, match=r"package\.json"):
        AppWrightExecutor(EXAMPLE / "tests")


def report(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data))
    return path


PASS = {"suites": [{"title": "smoke/math.spec.js", "specs": [], "suites": [
    {"title": "smoke: pure logic", "specs": [
        {"title": "adds numbers", "file": "smoke/math.spec.js", "tests": [
            {"status": "expected", "results": [{"status": "passed", "duration": 6}]}]}]}]}],
        "errors": [], "stats": {"expected": 1, "unexpected": 0}}
FAIL = {"suites": [{"title": "smoke/flaky.spec.js", "specs": [
    {"title": "checkout total", "tests": [{"status": "unexpected", "results": [
        {"status": "failed", "duration": 8,
         "error": {"message": "\x1b[2mexpect(\x1b[22mreceived).toBe(expected)\n"
                              "Expected: \x1b[32m601\x1b[39m"}}]}]}]}],
        "errors": [], "stats": {"expected": 0, "unexpected": 1}}
NONE = {"suites": [], "errors": [{"message": "Error: No tests found."}], "stats": {}}


@pytest.mark.parametrize(
    ("data", "outcome", "says"),
    [(PASS, Outcome.PASSED, None), (FAIL, Outcome.FAILED, "Expected: 601"),
     (NONE, Outcome.ERROR, "No tests found")],
)
def test_the_outcome_comes_from_the_report(tmp_path: Path, data: dict, outcome: Outcome,
                                           says: str | None) -> None:
    result = judge(report(tmp_path, data), "tests/x.spec.js", "", ())
    assert result.outcome is outcome
    if says:
        assert result.error is not None and says in result.error
        assert "\x1b" not in result.error


def test_per_test_results(tmp_path: Path) -> None:
    [case] = judge(report(tmp_path, PASS), "t", "", ()).cases
    assert (case.title, case.status, case.duration_seconds) == (
        "smoke: pure logic > adds numbers", "passed", 0.006)


def test_no_report_is_a_failure_with_the_output(tmp_path: Path) -> None:
    result = judge(tmp_path / "missing.json", "t", "Error: Cannot find module", ())
    assert result.outcome is Outcome.FAILED
    assert result.error is not None and "Cannot find module" in result.error
