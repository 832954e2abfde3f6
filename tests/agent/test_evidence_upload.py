"""Failure evidence from the agent's side: a failed test's attachments, named in Playwright's
JSON report, reach the server in the order screenshots, traces, videos, and nothing outside
the run's results folder is taken."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from qgjob.agent.client import AgentClient
from qgjob.agent.devices import parse_devices
from qgjob.agent.evidence import keep_evidence, safe_name
from qgjob.agent.executors.appwright import judge
from qgjob.agent.executors.base import JobTicket, Output, RunResult
from qgjob.agent.runner import Agent
from qgjob.domain.models import AttemptFile
from tests.agent.test_runner import all_finished, stop, submit, until
from tests.conftest import LiveServer, fast_settings, serve

pytestmark = pytest.mark.anyio
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 40


def playwright_report(results: Path, outside: Path, png: bytes = PNG,
                      webm: bytes = b"\x1aE\xdf\xa3webm" * 10) -> dict[str, Any]:
    """The shape `--reporter=json` writes for one failing and one passing test, with the
    attachments of `screenshot: 'only-on-failure'`, `video` and `trace: 'retain-on-failure'`."""
    failed = results / "artifacts" / "login-logs-in-emulator"
    failed.mkdir(parents=True)
    (failed / "test-failed-1.png").write_bytes(png)
    (failed / "video.webm").write_bytes(webm)
    (failed / "trace.zip").write_bytes(b"PK\x03\x04trace")
    passed = results / "artifacts" / "login-opens-emulator"
    passed.mkdir(parents=True)
    (passed / "video.webm").write_bytes(b"passing video")
    return {
        "config": {"rootDir": str(results)},
        "suites": [{"title": "login.spec.js", "file": "login.spec.js", "specs": [], "suites": [
            {"title": "login", "file": "login.spec.js", "specs": [
                {"title": "opens", "ok": True, "file": "login.spec.js", "line": 4, "tests": [
                    {"projectName": "emulator", "status": "expected", "results": [
                        {"status": "passed", "duration": 900, "attachments": [
                            {"name": "video", "contentType": "video/webm",
                             "path": str(passed / "video.webm")}]}]}]},
                {"title": "logs in", "ok": False, "file": "login.spec.js", "line": 9, "tests": [
                    {"projectName": "emulator", "status": "unexpected", "results": [
                        {"status": "failed", "duration": 1500,
                         "error": {"message": "\x1b[31mexpect(received).toBe(expected)\x1b[39m",
                                   "location": {"file": "login.spec.js", "line": 12,
                                                "column": 5},
                                   "snippet": "  11 |   await tap('Log in');\n> 12 |   "
                                              "expect(title).toBe('Welcome');\n     |   ^"},
                         "steps": [{"title": "tap Log in", "duration": 310},
                                   {"title": "expect toBe", "duration": 5,
                                    "error": {"message": "expected"}}],
                         "attachments": [
                             {"name": "video", "contentType": "video/webm",
                              "path": str(failed / "video.webm")},
                             {"name": "trace", "contentType": "application/zip",
                              "path": str(failed / "trace.zip")},
                             {"name": "screenshot", "contentType": "image/png",
                              "path": str(failed / "test-failed-1.png")},
                             {"name": "stolen", "contentType": "text/plain",
                              "path": str(outside)},
                             {"name": "note", "contentType": "text/plain", "body": "aGk="},
                         ]}]}]}]}]}],
        "errors": [], "stats": {"expected": 1, "unexpected": 1}}


def test_failed_tests_attachments_are_kept_screenshots_first(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not evidence")
    results = tmp_path / "results"
    scratch, evidence = keep_evidence(playwright_report(results, secret), results)
    assert scratch is not None and scratch.is_dir()
    assert [e.name for e in evidence] == ["01-test-failed-1.png", "02-trace.zip",
                                          "03-video.webm"]
    assert {e.test for e in evidence} == {"login > logs in"}
    assert (scratch / "01-test-failed-1.png").read_bytes() == PNG
    assert secret.exists() and not any(p.name == "secret.txt" for p in scratch.iterdir())
    shutil.rmtree(scratch)


def test_no_failure_no_evidence(tmp_path: Path) -> None:
    assert keep_evidence({"suites": []}, tmp_path) == (None, ())
    assert keep_evidence(None, tmp_path) == (None, ())


@pytest.mark.parametrize(("original", "expected"), [
    ("test-failed-1.png", "07-test-failed-1.png"), ("my shot (1).PNG", "07-my-shot-1.png"),
    ("..png", "07-file.png"), ("x" * 300 + ".webm", "07-" + "x" * 92 + ".webm")])
def test_upload_names_are_plain(original: str, expected: str) -> None:
    assert safe_name(7, original) == expected


@dataclass
class ReportingExecutor:
    """Runs nothing: answers with a real report's result and evidence, as the appwright
    executor does after `npx appwright test`."""

    folder: Path
    png: bytes = PNG
    webm: bytes = b"\x1aE\xdf\xa3webm" * 10
    name: str = "appwright"
    runs: list[str] = field(default_factory=list)
    scratches: list[Path] = field(default_factory=list)

    async def install(self, app_version_id: str, target: str, device: str,
                      output: Output) -> None:
        return None

    async def run(self, job: JobTicket, device: str, cancelled: asyncio.Event,
                  output: Output) -> RunResult:
        self.runs.append(job.job_id)
        results = self.folder / f"run-{len(self.runs)}"
        report = playwright_report(results, self.folder / "elsewhere.txt", self.png, self.webm)
        (results / "report.json").write_text(json.dumps(report))
        files = (AttemptFile("report.json", "application/json",
                             (results / "report.json").read_bytes()),)
        result = judge(results / "report.json", job.test_path, "", ())
        scratch, evidence = keep_evidence(report, results)
        self.scratches += [scratch] if scratch else []
        return RunResult(result.outcome, result.error, result.cases, files=files,
                         evidence=evidence, scratch=scratch)


async def test_the_agent_uploads_evidence_within_the_cap(tmp_path: Path) -> None:
    cap = len(PNG) + len(b"PK\x03\x04trace") + 10  # the video does not fit
    executor = ReportingExecutor(tmp_path / "runs")
    with serve(fast_settings(tmp_path, artifact_attempt_max_bytes=cap)) as live:
        await _run_one(live, executor)
        async with httpx.AsyncClient(base_url=live.url) as http:
            [job] = (await http.get("/jobs")).json()["jobs"]
            listed = (await http.get(f"/jobs/{job['job_id']}/artifacts")).json()
            [attempt] = listed["attempts"]
            assert [f["name"] for f in attempt["files"]] == ["01-test-failed-1.png",
                                                             "02-trace.zip"]
            assert [d["name"] for d in attempt["dropped"]] == ["03-video.webm"]
            shot = await http.get(attempt["files"][0]["url"])
            assert shot.content == PNG and shot.headers["content-type"] == "image/png"
    assert not list((tmp_path / "runs").glob("*/artifacts/*/test-failed-1.png"))
    assert executor.scratches and not any(s.exists() for s in executor.scratches)


async def _run_one(live: LiveServer, executor: ReportingExecutor) -> None:
    agent = Agent(AgentClient(live.url), "lab", parse_devices("emulator:1"), executor)
    task = asyncio.create_task(agent.run())
    async with httpx.AsyncClient(base_url=live.url) as http:
        ids = await submit(http, max_attempts=1)
        jobs = await until(http, ids, all_finished)
        assert jobs[ids[0]]["status"] == "failed"
    await stop(agent, task)
