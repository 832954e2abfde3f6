"""The workflows' shell steps, run locally in order against a real `qgjob up` with the
`GITHUB_*` variables set, the composite action (`uses: ./`) expanded into its own steps:
what a pipeline gets is an exit code, a JUnit file, a job summary and annotations."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.ci.local_runner import ROOT, LocalRunner, StepRun
from tests.e2e.processes import Process, free_port, wait_healthy

pytestmark = pytest.mark.e2e

WORKFLOWS = ROOT / ".github" / "workflows"
SUITE = sorted(p.relative_to(ROOT).as_posix()
               for p in (ROOT / "examples/appwright/tests").rglob("*.spec.js"))
EARLIER_SUMMARY = "### an earlier step's summary\n"
# Retries after a simulated failure come after 50-100 ms instead of 2-4 s.
FAST_RETRIES = {"QGJOB_RETRY_BASE_SECONDS": "0.05", "QGJOB_RETRY_MAX_SECONDS": "0.1"}


@pytest.fixture
def runner(tmp_path: Path) -> LocalRunner:
    workspace = tmp_path / "workspace"
    for test in SUITE:  # the checkout, as far as the suite's globs can see
        (workspace / test).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / test, workspace / test)
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    contexts = {"github.sha": "0f1e2d3c4b5a69788796a5b4c3d2e1f001234567",
                "github.repository": "acme/app", "github.repository_owner": "acme",
                "github.run_id": "4242", "github.run_attempt": "1", "github.job": "appwright",
                "github.workspace": str(workspace), "runner.temp": str(temp)}
    local = LocalRunner(workspace, temp, contexts, FAST_RETRIES)
    local.summary.write_text(EARLIER_SUMMARY)
    return local


def step(steps: list[StepRun], name: str) -> StepRun:
    [found] = [s for s in steps if s.name == name]
    return found


def exit_code(steps: list[StepRun]) -> int:
    """The job's: the first failing step's exit code."""
    return next((s.exit_code or 1 for s in steps if s.outcome == "failure"), 0)


def log(steps: list[StepRun]) -> str:
    return "\n".join(f"--- {s.name}: {s.outcome} {s.exit_code}\n{s.stdout}{s.stderr}"
                     for s in steps)


def junit_cases(runner: LocalRunner) -> dict[str, ET.Element]:
    root = ET.parse(runner.workspace / "qgjob-junit.xml").getroot()
    return {case.get("file", ""): case for case in root.iter("testcase")}


def test_the_self_contained_workflow_passes(runner: LocalRunner) -> None:
    steps = runner.run_job(WORKFLOWS / "appwright-tests-local.yml", "appwright",
                           env={"QGJOB_PORT": str(free_port())})
    assert exit_code(steps) == 0, log(steps)
    cases = junit_cases(runner)
    assert sorted(cases) == SUITE
    assert not [c for c in cases.values() if c.find("failure") is not None]
    summary = runner.summary.read_text()
    assert summary.startswith(EARLIER_SUMMARY)  # appended, never overwritten
    assert f"all {len(SUITE)} test(s) passed" in summary and SUITE[0] in summary
    outputs = step(steps, "Run the suite").outputs
    assert outputs == {"passed": str(len(SUITE)), "failed": "0", "quarantined": "0",
                       "cancelled": "0", "unfinished": "0", "flaky": "0", "total": str(len(SUITE)),
                       "junit": str(runner.workspace / "qgjob-junit.xml")}
    uploaded = step(steps, "Upload the JUnit report").given["path"].split()
    assert all((runner.workspace / path).is_file() for path in uploaded)
    installs = runner.pip_calls.read_text().splitlines()
    assert installs[0].endswith(" .") and installs[1].endswith(str(ROOT))


def test_a_failing_suite_fails_the_job_and_says_what_failed(runner: LocalRunner) -> None:
    steps = runner.run_job(WORKFLOWS / "appwright-tests-local.yml", "appwright",
                           inputs={"fail-rate": "1"}, env={"QGJOB_PORT": str(free_port())})
    run = step(steps, "Run the suite")
    assert (run.outcome, run.exit_code) == ("failure", 1), log(steps)
    assert step(steps, "Stop qgjob up").outcome == "success"  # if: always()
    failures = [c.find("failure") for c in junit_cases(runner).values()]
    assert len(failures) == len(SUITE)
    assert all(f is not None and "simulated failure" in f.get("message", "") for f in failures)
    assert f"::error file={SUITE[0]},title=" in run.stdout
    assert f"{len(SUITE)} failed of {len(SUITE)} test(s)" in runner.summary.read_text()
    assert run.outputs["failed"] == str(len(SUITE)) and run.outputs["passed"] == "0"


@pytest.fixture
def remote_server(tmp_path: Path) -> Iterator[str]:
    """Stands for the server the QGJOB_SERVER secret names."""
    port = free_port()
    process = Process("up", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'remote.db'}",
                      "--install-seconds", "0.1", "--test-seconds", "0.2",
                      log=tmp_path / "remote.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        process.stop()


def test_the_server_workflow_runs_against_the_secret_server(
        runner: LocalRunner, remote_server: str) -> None:
    runner.contexts["secrets.QGJOB_SERVER"] = remote_server
    steps = runner.run_job(WORKFLOWS / "appwright-tests.yml", "appwright")
    assert exit_code(steps) == 0, log(steps)
    assert sorted(junit_cases(runner)) == SUITE
    assert step(steps, "Run the suite").outputs["passed"] == str(len(SUITE))


def test_the_server_workflow_without_a_server_passes_with_a_notice(
        runner: LocalRunner) -> None:
    steps = runner.run_job(WORKFLOWS / "appwright-tests.yml", "appwright")
    assert exit_code(steps) == 0, log(steps)
    assert "::notice title=AppWright tests skipped::" in steps[0].stdout
    assert step(steps, "Run the suite").outcome == "skipped"
