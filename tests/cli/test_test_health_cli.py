"""Test health through the CLI against a real server and agent: `qgjob tests`, `qgjob
quarantine`, a quarantined test through `qgjob run` (exit codes, JUnit, GitHub warnings), and
a failure that repeats ending after two attempts instead of three."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest

from qgjob.agent.executors.simulate import SimulateExecutor
from tests.agent_thread import running_agent
from tests.cli.test_cli import run
from tests.conftest import LiveServer

LOGIN = "tests/login.spec.js"
RUN = ("run", "--org-id=acme", "--app-version-id=v1", f"--test={LOGIN}", "--timeout=30")


@pytest.fixture
def in_github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / LOGIN).parent.mkdir(parents=True)
    (tmp_path / LOGIN).touch()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output"))
    return tmp_path


def junit_properties(path: Path) -> dict[str, str]:
    [case] = ET.parse(path).getroot().iter("testcase")
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def test_a_quarantined_failure_does_not_fail_the_run(
        capsys: pytest.CaptureFixture[str], live_server: LiveServer, in_github: Path) -> None:
    code, _, err = run(capsys, live_server, "quarantine", "add", "--org-id=acme",
                       f"--test={LOGIN}", "--reason=flaky login screen")
    assert code == 0 and "is quarantined" in err
    with running_agent(live_server.url, SimulateExecutor(0, 0.02, fail_rate=1.0)):
        code, out, err = run(capsys, live_server, *RUN, "--max-attempts=1",
                             "--junit=junit.xml", "--idempotency-key=first")
        assert code == 0, err
        assert "failed but is quarantined" in err and "1 quarantined" in err
        assert f"::warning file={LOGIN},title={LOGIN} failed (quarantined)::" in out
        assert "::error" not in out
        assert junit_properties(in_github / "junit.xml")["quarantined"] == "true"
        assert ET.parse(in_github / "junit.xml").find(".//failure") is not None  # reported
        summary = (in_github / "summary.md").read_text()
        assert summary.startswith("### ⚠️ qgjob: 1 failed (1 quarantined) of 1 test(s)")
        assert f"| ⚠️ failed (quarantined) | `{LOGIN}` |" in summary and "❌" not in summary
        outputs = dict(line.split("=", 1) for line in (in_github / "output").read_text()
                       .splitlines())
        assert (outputs["failed"], outputs["quarantined"]) == ("1", "1")

        code, _, _ = run(capsys, live_server, "quarantine", "remove", "--org-id=acme",
                         f"--test={LOGIN}")
        assert code == 0
        code, out, err = run(capsys, live_server, *RUN, "--max-attempts=1",
                             "--junit=junit.xml", "--idempotency-key=second")
    assert code == 1, err
    assert f"::error file={LOGIN}" in out
    assert "quarantined" not in junit_properties(in_github / "junit.xml")


def test_quarantine_list_and_bad_input(capsys: pytest.CaptureFixture[str],
                                       live_server: LiveServer) -> None:
    code, out, err = run(capsys, live_server, "quarantine", "list")
    assert (code, out) == (0, "") and "no test is quarantined" in err
    run(capsys, live_server, "quarantine", "add", "--org-id=acme", f"--test={LOGIN}",
        "--reason=flaky login")
    run(capsys, live_server, "quarantine", "add", "--org-id=acme", f"--test={LOGIN}")
    code, out, _ = run(capsys, live_server, "quarantine", "list", "--json")
    assert code == 0
    [entry] = [json.loads(line) for line in out.splitlines()]
    assert (entry["org_id"], entry["test_path"]) == ("acme", LOGIN)
    assert entry["reason"] == "flaky login"  # adding again without --reason keeps it
    code, _, err = run(capsys, live_server, "quarantine", "remove", "--org-id=acme",
                       "--test=tests/other.spec.js")
    assert code == 2 and "is not quarantined" in err and "Traceback" not in err
    code, _, err = run(capsys, live_server, "quarantine", "add", "--org-id=acme",
                       "--test=/etc/passwd")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_a_repeated_failure_stops_after_two_attempts_and_shows_in_tests(
        capsys: pytest.CaptureFixture[str], live_server: LiveServer) -> None:
    with running_agent(live_server.url, SimulateExecutor(0, 0.02, fail_rate=1.0),
                       devices="emulator:2"):
        code, out, err = run(capsys, live_server, "submit", "--org-id=acme",
                             "--app-version-id=v1", f"--test={LOGIN}", "--max-attempts=3",
                             "--wait", "--timeout=30", "--json")
    assert code == 1, err
    job = json.loads(out.splitlines()[-1])
    assert (job["status"], job["attempts"]) == ("failed", 2)
    attempts = httpx.get(f"{live_server.url}/jobs/{job['job_id']}/attempts").json()["attempts"]
    assert attempts[0]["note"] is None
    assert attempts[1]["note"].startswith("not retried: the same failure happened")

    code, out, err = run(capsys, live_server, "tests", "--org-id=acme", "--json")
    assert code == 0, err
    [test] = [json.loads(line) for line in out.splitlines()]
    assert (test["test_path"], test["status"], test["runs"], test["failed"]) == (
        LOGIN, "new", 2, 2)
    assert test["last_failure"]["error"].startswith("simulated failure")
    code, out, _ = run(capsys, live_server, "tests", "--sort=name")
    assert code == 0 and LOGIN in out and "STATUS" in out
    code, out, err = run(capsys, live_server, "stats", "--org-id=acme", "--json")
    [stats] = [json.loads(line) for line in out.splitlines()]
    assert (stats["failed"], stats["attempts"], stats["success_rate"]) == (1, 2, 0.0)
    code, out, _ = run(capsys, live_server, "stats")
    assert code == 0 and "DEVICE-HOURS" in out


@pytest.mark.parametrize("args", [("--sort=bogus",), ("--org-id=a b",), ("--limit=0",),
                                  ("--target=phone",)])
def test_tests_refuses_bad_options_in_one_line(capsys: pytest.CaptureFixture[str],
                                               live_server: LiveServer,
                                               args: tuple[str, ...]) -> None:
    code, _, err = run(capsys, live_server, "tests", *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(("trend", "shown"), [
    (None, "-"), (0.0, "0%"), (-0.001, "0%"), (0.004, "0%"), (-0.25, "-25%"), (0.1, "+10%")])
def test_a_trend_that_rounds_to_nothing_is_0_percent(trend: float | None, shown: str) -> None:
    from qgjob.cli.health import _trend

    assert _trend(trend) == shown


@pytest.mark.parametrize(("error", "shown"), [
    ("\nAssertionError: expected 1 to be 2", "AssertionError: expected 1 to be 2"),
    ("expected 1\nto be 2", "expected 1 …"),
    ("x" * 100, "x" * 59 + "…"), (None, "failed"), ("  \n", "failed")])
def test_a_last_failure_shows_its_first_line_and_says_what_was_cut(error: str | None,
                                                                   shown: str) -> None:
    from qgjob.cli.health import _failure

    failure = {"error": error, "at": "2026-11-23T10:00:00.000Z", "app_version_id": "v1"}
    assert _failure(failure) == f"10:00:00 v1: {shown}"


def test_an_empty_list_says_whether_a_filter_matched_nothing(
        capsys: pytest.CaptureFixture[str], live_server: LiveServer) -> None:
    """`tests --org-id nobody` said "no test history yet" on a server with history."""
    code, _, err = run(capsys, live_server, "tests")
    assert code == 0 and "no test history yet" in err
    with running_agent(live_server.url, SimulateExecutor(0, 0.02)):
        code, _, err = run(capsys, live_server, "submit", "--org-id=acme",
                           "--app-version-id=v1", f"--test={LOGIN}", "--wait", "--timeout=30")
    assert code == 0, err
    run(capsys, live_server, "quarantine", "add", "--org-id=acme", f"--test={LOGIN}")
    for args, says in [
        (["tests", "--org-id=nobody"], "no tests match --org-id nobody\n"),
        (["tests", "--target=device", "--test=tests/other.spec.js"],
         "no tests match --target device --test tests/other.spec.js\n"),
        (["stats", "--org-id=nobody"], "no jobs of nobody finished in the last 7 day(s)\n"),
        (["quarantine", "list", "--org-id=nobody"], "no test of nobody is quarantined\n"),
    ]:
        code, out, err = run(capsys, live_server, *args)
        assert (code, out, err) == (0, "", says)


def test_stats_help_says_its_org_filter_is_of_statistics(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, "http://127.0.0.1:9", "stats", "--help")
    assert code == 0
    assert "Only this org's statistics" in out and "this org's tests" not in out
