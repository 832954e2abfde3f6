"""AppWright for real: a qgjob agent with the appwright executor runs the example project's
device-free specs through `npx appwright test`, and the results come back per test."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Process, cli, free_port, wait_healthy

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "appwright"


@pytest.fixture
def appwright_ready() -> None:
    missing = None
    if shutil.which("npx") is None:
        missing = "npx (Node.js) is not installed"
    elif not (EXAMPLE / "node_modules" / "appwright").is_dir():
        missing = f"run `npm ci` in {EXAMPLE} first (.ci/run does)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)


def appwright_lab(tmp_path: Path, name: str, timeout: int) -> tuple[str, Process, Process]:
    """A real server and one agent with the appwright executor on the example project (its
    failing specs switched on): the server's URL and both processes, to stop when done."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Process("server", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'aw.db'}",
                     log=tmp_path / "server.log")
    wait_healthy(url, server)
    agent = Process("--server", url, "agent", "--name", name, "--devices", "emulator:1",
                    "--executor", "appwright", "--project-dir", str(EXAMPLE),
                    "--project-map", "emulator=local",
                    "--build-template", "https://builds.invalid/{app_version_id}.apk",
                    "--timeout", str(timeout), log=tmp_path / "agent.log",
                    env={"FAIL_ON_PURPOSE": "1"})
    return url, server, agent


def test_appwright_specs_through_qgjob(tmp_path: Path, appwright_ready: None) -> None:
    url, server, agent = appwright_lab(tmp_path, "aw-lab", timeout=180)
    try:
        submitted = cli(url, "submit", "--org-id=acme", "--app-version-id=1.4.2",
                        "--test=tests/smoke/math.spec.js",
                        "--test=tests/smoke/flaky-switch.spec.js", "--max-attempts=1")
        assert submitted.returncode == 0, submitted.stderr
        math_id, failing_id = submitted.stdout.split()
        waited = cli(url, "wait", "--job-id", math_id, "--job-id", failing_id,
                     "--timeout", "240", timeout=300)
        assert waited.returncode == 1, waited.stderr + agent.output()  # one failed on purpose
        math = httpx.get(f"{url}/jobs/{math_id}").json()
        failing = httpx.get(f"{url}/jobs/{failing_id}").json()
        assert math["status"] == "completed"
        assert [(t["title"], t["status"]) for t in math["tests"]] == [
            ("smoke: pure logic > adds numbers", "passed"),
            ("smoke: pure logic > formats a build label", "passed")]
        assert failing["status"] == "failed"
        assert "Expected: 601" in failing["error"] and "\x1b" not in failing["error"]
        assert [t["status"] for t in failing["tests"]] == ["failed"]
        logs = httpx.get(f"{url}/jobs/{math_id}/logs").text
        assert "npx appwright test" in logs and "2 passed" in logs
        files = {f["name"] for f in httpx.get(f"{url}/jobs/{math_id}/files").json()["files"]}
        assert files == {"report.json", "junit.xml"}
        junit = httpx.get(f"{url}/jobs/{failing_id}/files/1/junit.xml").text
        assert "<failure" in junit

        # On a new build: the same failure twice is not worth a third try (issue 20).
        again = cli(url, "submit", "--org-id=acme", "--app-version-id=1.4.3",
                    "--test=tests/smoke/flaky-switch.spec.js", "--max-attempts=3",
                    "--idempotency-key=again", "--wait", "--timeout", "240", "--json",
                    timeout=300)
        assert again.returncode == 1, again.stderr + agent.output()
        repeated = json.loads(again.stdout.splitlines()[-1])
        assert (repeated["status"], repeated["attempts"]) == ("failed", 2)
        attempts = httpx.get(f"{url}/jobs/{repeated['job_id']}/attempts").json()["attempts"]
        assert attempts[-1]["note"].startswith("not retried: the same failure happened")
    finally:
        time.sleep(0.2)
        agent.stop()
        server.stop()
