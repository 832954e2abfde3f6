"""The JUnit file, the GitHub job summary, annotations and step outputs, from job records
as the API returns them."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from qgjob.cli import github
from qgjob.cli.junit import junit_xml
from qgjob.cli.outcomes import Tally, log_excerpt, seconds_of
from tests.ci.local_runner import _commands_file


def job(n: int = 1, **changes: Any) -> dict[str, Any]:
    base = {"job_id": f"job{n}", "org_id": "acme", "app_version_id": "v1",
            "test_path": f"tests/smoke/t{n}.spec.js", "target": "emulator", "priority": 3,
            "status": "completed", "attempts": 1, "max_attempts": 3, "agent": "lab",
            "device": "lab/emulator-1", "error": None, "flaky": False,
            "cancel_requested": False, "created_at": "2026-11-23T10:00:00.000Z",
            "started_at": "2026-11-23T10:00:01.000Z", "finished_at": "2026-11-23T10:00:03.500Z"}
    return {**base, **changes}


SUITE = [
    job(1),
    job(2, status="failed", attempts=3, error="expected 'Welcome' <h1> & got \"\""),
    job(3, status="cancelled", started_at=None, finished_at=None),
    job(4, status="running", finished_at=None),
    job(5, attempts=2, flaky=True, test_path="top.spec.js"),
]


def parse(report: bytes) -> ET.Element:
    return ET.fromstring(report)


def test_junit_has_one_testcase_per_job_and_the_counts() -> None:
    root = parse(junit_xml(SUITE, {"job2": "step 3: tap Login\nAssertionError"}, "v1 on emulator"))
    suite = root.find("testsuite")
    assert suite is not None
    assert {k: suite.get(k) for k in ("name", "tests", "failures", "errors", "skipped")} == {
        "name": "v1 on emulator", "tests": "5", "failures": "1", "errors": "1", "skipped": "1"}
    cases = {c.get("file"): c for c in suite.iter("testcase")}
    first = cases["tests/smoke/t1.spec.js"]
    assert (first.get("classname"), first.get("name"), first.get("time")) == (
        "tests.smoke", "t1.spec.js", "2.500")
    failure = cases["tests/smoke/t2.spec.js"].find("failure")
    assert failure is not None and failure.get("message") == SUITE[1]["error"]
    assert "tap Login" in (failure.text or "")
    assert cases["tests/smoke/t3.spec.js"].find("skipped") is not None
    assert cases["tests/smoke/t4.spec.js"].find("error") is not None
    flaky = {p.get("name"): p.get("value") for p in cases["top.spec.js"].iter("property")}
    assert (flaky["flaky"], flaky["attempts"], cases["top.spec.js"].get("classname")) == (
        "true", "2", "(root)")


def _case(title: str, result: str, error: str | None = None) -> dict[str, Any]:
    return {"title": title, "result": result, "duration_seconds": 0.25, "error": error}


def test_junit_has_a_testcase_per_test_inside_a_spec_with_the_spec_as_class() -> None:
    cases = {"job1": [_case("logs in", "passed"), _case("logs out", "skipped")],
             "job2": [_case("logs in", "passed"), _case("bad password", "failed",
                                                        "expected 401\nat login.spec.js:9")],
             "job3": [_case("never ran", "failed")],  # cancelled: the job stays one case
             "job6": [_case("opens", "passed")]}  # failed though every test passed
    crashed = job(6, status="failed", error="device lost after the tests")
    root = parse(junit_xml([*SUITE, crashed], {"job2": "the log's end"}, "v1", cases))
    suite = root.find("testsuite")
    assert suite is not None
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "9", "failures": "2", "errors": "1", "skipped": "2"}
    rows = [(c.get("classname"), c.get("name"), c.get("time"),
             next((e.tag for e in c if e.tag != "properties"), None))
            for c in suite.iter("testcase")]
    assert rows[:4] == [
        ("tests/smoke/t1.spec.js", "logs in", "0.250", None),
        ("tests/smoke/t1.spec.js", "logs out", "0.250", "skipped"),
        ("tests/smoke/t2.spec.js", "logs in", "0.250", None),
        ("tests/smoke/t2.spec.js", "bad password", "0.250", "failure")]
    assert ("tests.smoke", "t3.spec.js", "0.000", "skipped") in rows
    assert rows[-2:] == [("tests/smoke/t6.spec.js", "opens", "0.250", None),
                         ("tests.smoke", "t6.spec.js", "2.500", "failure")]
    failure = next(c for c in suite.iter("testcase") if c.get("name") == "bad password")
    assert failure.find("failure").get("message") == "expected 401"  # type: ignore[union-attr]
    assert "the log's end" in (failure.find("failure").text or "")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "nasty",
    ["<tag attr=\"x\">&amp;</tag>", "]]> CDATA end", "NUL\x00 bell\x07 esc\x1b[31mred",
     "line\nbreak\r\ttab", "emoji 🚀 and ünïcödé", "lone surrogate \ud800", "'quotes' \"both\""],
)
def test_junit_stays_well_formed_whatever_the_error_and_log_hold(nasty: str) -> None:
    failed = job(1, status="failed", error=nasty)
    root = parse(junit_xml([failed], {"job1": nasty}, nasty))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message")
    if nasty.isprintable():
        assert failure.get("message") == nasty


def test_junit_without_a_log_has_just_the_error() -> None:
    root = parse(junit_xml([job(1, status="failed", error="boom")], {}, "s"))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.text == "boom"


@pytest.mark.parametrize(
    ("log", "excerpt"),
    [
        (None, ""),
        ("", ""),
        ("\n\n", ""),
        ("\x1b[31mFAIL\x1b[0m login\n", "FAIL login"),
        ("\n".join(f"line {i}" for i in range(100)),
         "\n".join(f"line {i}" for i in range(60, 100))),
        ("x" * 10_000, "x" * 4000),
    ],
)
def test_log_excerpt_is_the_plain_end_of_the_log(log: str | None, excerpt: str) -> None:
    assert log_excerpt(log) == excerpt


@pytest.mark.parametrize(
    ("changes", "seconds"),
    [({}, 2.5), ({"started_at": None}, 0.0), ({"finished_at": None}, 0.0),
     ({"finished_at": "2026-11-23T10:00:00.000Z"}, 0.0)],
)
def test_seconds_of_a_job(changes: dict[str, Any], seconds: float) -> None:
    assert seconds_of(job(1, **changes)) == seconds


def test_summary_lists_problems_first_with_the_counts() -> None:
    text = github.summary_markdown(SUITE, {"job2": "tail ``` of log"}, "v1 on emulator")
    heading, _, header, _, *rows = text.splitlines()
    assert heading == ("### ❌ qgjob: 1 failed, 1 cancelled, 1 unfinished of 5 test(s), "
                       "1 flaky (v1 on emulator)")
    assert header.startswith("| result | test |")
    order = [row.split("`")[1] for row in rows[:5]]
    assert order[-2:] == ["top.spec.js", "tests/smoke/t1.spec.js"]  # flaky, then passed
    assert "&lt;h1&gt; &amp; got" in text  # an error cannot inject markup
    assert "````text\ntail ``` of log\n````" in text  # nor close the log's code block
    assert github.summary_markdown([job(1)], {}, "s").startswith(
        "### ✅ qgjob: all 1 test(s) passed (s)")


@pytest.mark.parametrize(
    ("others", "heading"),
    [([], "### ⚠️ qgjob: 1 failed (1 quarantined) of 1 test(s) (s)"),
     ([job(2, status="failed")], "### ❌ qgjob: 2 failed (1 quarantined) of 2 test(s) (s)")],
)
def test_summary_marks_quarantined_failures_as_not_failing_the_step(
        others: list[dict[str, Any]], heading: str) -> None:
    forgiven = job(1, status="failed", quarantined=True)
    lines = github.summary_markdown([forgiven, *others], {}, "s").splitlines()
    assert lines[0] == heading
    assert "do not fail the step" in lines[2]
    rows = [line for line in lines if line.startswith("| ")][1:]
    assert rows[-1].startswith("| ⚠️ failed (quarantined) | `tests/smoke/t1.spec.js` |")
    assert all(row.startswith("| ❌ failed |") for row in rows[:-1])  # real failures first


@pytest.mark.parametrize(
    ("error", "cell"),
    [("a | b", "a \\| b"), ("two\nlines", "two lines"), ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"),
     (None, "")],
)
def test_summary_cells_stay_one_cell(error: str | None, cell: str) -> None:
    text = github.summary_markdown([job(1, status="failed", error=error)], {}, "s")
    assert text.splitlines()[4].endswith(f"| {cell} |")


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        ({"status": "failed", "attempts": 3, "error": "100% broken\r\nsee log"},
         "::error file=tests/smoke/t1.spec.js,title=tests/smoke/t1.spec.js failed::"
         "100%25 broken%0D%0Asee log%0Ajob job1, attempt 3 of 3"),
        ({"status": "cancelled", "test_path": "a,b:c.spec.js"},
         "::error file=a%2Cb%3Ac.spec.js,title=a%2Cb%3Ac.spec.js cancelled::cancelled%0A"
         "job job1, attempt 1 of 3"),
        ({"status": "queued", "attempts": 0},
         "::error file=tests/smoke/t1.spec.js,title=tests/smoke/t1.spec.js timed out::"
         "timed out%0Ajob job1, attempt 0 of 3"),
        ({"flaky": True, "attempts": 2},
         "::warning file=tests/smoke/t1.spec.js,title=tests/smoke/t1.spec.js is flaky::"
         "passed on attempt 2 of 3 (job job1)"),
        ({}, None),
    ],
)
def test_annotations(changes: dict[str, Any], line: str | None) -> None:
    assert github.annotation_lines([job(1, **changes)]) == ([line] if line else [])


def test_annotations_are_capped() -> None:
    lines = github.annotation_lines([job(n, status="failed") for n in range(60)])
    assert len(lines) == github.MAX_ANNOTATIONS + 1
    assert lines[-1] == "::error::10 more: see the job summary"


def test_step_outputs_add_up(tmp_path: Path) -> None:
    text = github.step_outputs(Tally.of(SUITE), tmp_path / "r.xml")
    outputs = dict(line.split("=", 1) for line in text.splitlines())
    assert outputs == {"total": "5", "passed": "2", "failed": "1", "quarantined": "0",
                       "cancelled": "1", "unfinished": "1", "flaky": "1",
                       "junit": str(tmp_path / "r.xml")}


def test_step_outputs_count_quarantined_failures_apart() -> None:
    jobs = [job(1, status="failed", quarantined=True), job(2, status="failed"), job(3)]
    outputs = dict(line.split("=", 1) for line in
                   github.step_outputs(Tally.of(jobs), None).splitlines())
    assert (outputs["failed"], outputs["quarantined"], outputs["total"]) == ("2", "1", "3")


@pytest.mark.parametrize("junit", ["out/x\npassed=999", "out/x\r\nfailed<<END", "out/ok.xml"])
def test_no_value_adds_or_overrides_an_output(tmp_path: Path, junit: str) -> None:
    output = tmp_path / "output"
    output.write_text(github.step_outputs(Tally.of(SUITE), tmp_path / junit))
    outputs = _commands_file(output)  # as the runner reads $GITHUB_OUTPUT
    assert (outputs["passed"], outputs["failed"]) == ("2", "1")
    assert outputs["junit"] == str(tmp_path / junit).replace("\r\n", "\n")
    assert len(outputs) == 8


def test_append_never_overwrites(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier\n")
    github.append(str(summary), "ours\n")
    github.append(None, "nowhere")
    assert summary.read_text() == "earlier\nours\n"
