"""The `appwright` executor: runs one spec file of an AppWright project with
`npx appwright test`, one worker, its own retries off (qgjob owns retries), and takes the
result from Playwright's JSON report rather than the exit code (AppWright turns every failure
into exit 1). The app build reaches the suite through an environment variable."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from qgjob.agent.evidence import keep_evidence
from qgjob.agent.executors.base import InstallFailed, JobTicket, Output, RunResult
from qgjob.agent.executors.process import (
    job_environment,
    job_values,
    run_process,
    shell_quote,
)
from qgjob.domain.attempts import Outcome
from qgjob.domain.models import AttemptFile, CaseResult
from qgjob.domain.values import TARGETS
from qgjob.protocol.limits import FILE_MAX_BYTES

DEFAULT_PROJECTS: dict[str, str] = {target: target for target in TARGETS}
"""The Playwright project each target runs under: its own name, unless told otherwise."""
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STATUS = {"expected": "passed", "unexpected": "failed", "flaky": "flaky", "skipped": "skipped"}


@dataclass
class AppWrightExecutor:
    project_dir: Path
    projects: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PROJECTS))
    """Target -> AppWright project name."""
    build_template: str = "{app_version_id}"
    """How an app build id becomes what the suite installs: a path such as
    `builds/{app_version_id}.apk`, an https:// URL, or BrowserStack's `bs://…` id as is."""
    build_env: str = "APP_BUILD_PATH"
    timeout_seconds: float = 15 * 60
    npx: str = "npx"
    kill_grace_seconds: float = 5.0
    name: str = "appwright"

    def __post_init__(self) -> None:
        self.project_dir = self.project_dir.resolve()
        if not (self.project_dir / "package.json").is_file():
            raise ValueError(f"{self.project_dir} is not an AppWright project (no package.json)")
        if "{app_version_id}" not in self.build_template:
            raise ValueError("the build template must contain {app_version_id}")

    def build_for(self, app_version_id: str) -> str:
        return self.build_template.replace("{app_version_id}", app_version_id)

    async def install(self, app_version_id: str, target: str, device: str,
                      output: Output) -> None:
        """AppWright installs the build itself (its device fixture); here we only check that
        a local build file exists, so a missing build fails fast with a clear reason."""
        build = self.build_for(app_version_id)
        output.write(f"[appwright] build for {app_version_id}: {build}\n")
        if not re.match(r"^(https?|bs)://", build):
            path = (self.project_dir / build).resolve()
            if not path.is_file():
                raise InstallFailed(f"build file not found: {path}")

    async def run(self, job: JobTicket, device: str, cancelled: asyncio.Event,
                  output: Output) -> RunResult:
        project = self.projects.get(job.target)
        if project is None:
            return RunResult(Outcome.ERROR, f"no AppWright project for target {job.target!r}")
        with tempfile.TemporaryDirectory(prefix="qgjob-appwright-") as folder:
            results = Path(folder)
            argv = self.command(job.test_path, project, results)
            values = job_values(job, device)
            env = job_environment(values, {
                self.build_env: self.build_for(job.app_version_id),
                "PLAYWRIGHT_JSON_OUTPUT_FILE": str(results / "report.json"),
                "PLAYWRIGHT_JUNIT_OUTPUT_FILE": str(results / "junit.xml"),
                "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
            })
            output.write(f"$ {shell_quote(argv)}\n")
            finished = await run_process(argv, env=env, cwd=self.project_dir, output=output,
                                         timeout=self.timeout_seconds, cancelled=cancelled,
                                         kill_grace=self.kill_grace_seconds)
            if finished.missing:
                return RunResult(Outcome.ERROR, finished.missing)
            if finished.cancelled:
                return RunResult(Outcome.CANCELLED, "stopped on cancel")
            files = _report_files(results)
            if finished.timed_out:
                result = RunResult(Outcome.FAILED, f"timed out after {self.timeout_seconds:g}s; "
                                   "its process group was killed", files=files)
            else:
                result = judge(results / "report.json", job.test_path, finished.tail, files)
            scratch, evidence = keep_evidence(_read_json(results / "report.json"), results)
            return replace(result, evidence=evidence, scratch=scratch)

    def command(self, test_path: str, project: str, results: Path) -> list[str]:
        per_test_ms = int(self.timeout_seconds * 1000)
        return [self.npx, "appwright", "test", self.file_pattern(test_path),
                "--project", project, "--workers=1", "--retries=0",
                "--reporter=list,json,junit", f"--output={results / 'artifacts'}",
                f"--timeout={per_test_ms}"]

    def file_pattern(self, test_path: str) -> str:
        """Playwright reads the file argument as a regex over the absolute path (ignoring
        case): anchor and escape it, so tests/login.spec.js matches nothing else. AppWright
        splits its arguments on spaces, so a space is written as \\s."""
        absolute = str((self.project_dir / test_path).resolve())
        return "^" + re.escape(absolute).replace("\\ ", "\\s") + "$"


def judge(report_path: Path, test_path: str, tail: str,
          files: tuple[AttemptFile, ...]) -> RunResult:
    """The attempt's outcome from Playwright's JSON report."""
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError):
        return RunResult(Outcome.FAILED, "appwright wrote no JSON report\n" + tail[-3000:],
                         files=files)
    cases = tuple(_cases(report.get("suites", []), []))
    errors = [_plain(e.get("message", "")) for e in report.get("errors", [])]
    stats = report.get("stats", {})
    if not cases:
        reason = errors[0] if errors else f"no tests matched {test_path}"
        return RunResult(Outcome.ERROR, reason[:4000], files=files)
    failed = [case for case in cases if case.status == "failed"]
    if failed or errors or stats.get("unexpected", 0):
        first = failed[0] if failed else None
        summary = f"{len(failed)} of {len(cases)} test(s) failed"
        detail = f"{first.title}: {first.error}" if first else (errors[0] if errors else "")
        return RunResult(Outcome.FAILED, f"{summary}; {detail}"[:4000], cases=cases,
                         files=files)
    return RunResult(Outcome.PASSED, cases=cases, files=files)


def _cases(suites: list[dict[str, Any]], titles: list[str]) -> list[CaseResult]:
    found: list[CaseResult] = []
    for suite in suites:
        path = [*titles, suite["title"]] if suite.get("title") else titles
        for spec in suite.get("specs", []):
            for test in spec.get("tests", []):
                results = test.get("results", [])
                last = results[-1] if results else {}
                error = last.get("error", {}).get("message") if last.get("error") else None
                status = _STATUS.get(test.get("status", ""), "failed")
                if status == "failed" and last.get("status") == "timedOut":
                    status = "timed-out"
                found.append(CaseResult(
                    title=" > ".join([*path[1:], spec["title"]]) or spec["title"],
                    status=status,
                    duration_seconds=sum(r.get("duration", 0) for r in results) / 1000,
                    error=_plain(error) if error else None,
                    file=spec.get("file")))
        found += _cases(suite.get("suites", []), path)
    return found


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _plain(text: str) -> str:
    return _ANSI.sub("", text).strip()


def _report_files(results: Path) -> tuple[AttemptFile, ...]:
    files = []
    for name, media_type in (("report.json", "application/json"),
                             ("junit.xml", "application/xml")):
        path = results / name
        if path.is_file() and path.stat().st_size <= FILE_MAX_BYTES:
            files.append(AttemptFile(name, media_type, path.read_bytes()))
    return tuple(files)
