"""A failed test's evidence on the job page, in headless Chromium: the screenshot shows
inline, the video plays in a player, the trace is offered with the command that opens it, and
report.json reads per test (error, code location, snippet, steps), with no console errors."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from qgjob.artifacts import DROPS_LISTED
from tests.agent.test_evidence_upload import ReportingExecutor
from tests.agent_thread import running_agent
from tests.api.test_agent_protocol import running_job
from tests.conftest import LiveServer, fast_settings, serve
from tests.web import live_http
from tests.web.test_dashboard_browser import BUILD, shoot

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

RECORD_WEBM = """async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 48;
  const paint = canvas.getContext("2d");
  const recorder = new MediaRecorder(canvas.captureStream(10), { mimeType: "video/webm" });
  const parts = [];
  recorder.ondataavailable = (event) => parts.push(event.data);
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.start();
  for (let i = 0; i < 8; i++) {
    paint.fillStyle = i % 2 ? "#c00" : "#0a0"; paint.fillRect(0, 0, 64, 48);
    await new Promise((r) => setTimeout(r, 60));
  }
  recorder.stop();
  await stopped;
  const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
  let text = ""; for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}"""


def test_a_failed_tests_screenshot_video_and_trace(live_server: LiveServer, page: Page,
                                                   tmp_path: Path) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 else None)
    page.goto(f"{live_server.url}/#/jobs")
    png = page.screenshot()  # real media, made by the browser that will show it
    webm = base64.b64decode(page.evaluate(RECORD_WEBM))
    executor = ReportingExecutor(tmp_path / "runs", png=png, webm=webm)
    with running_agent(live_server.url, executor, devices="emulator:1"):
        job_id = live_http.post(f"{live_server.url}/jobs", json={
            **BUILD, "test_path": "tests/login.spec.js", "max_attempts": 1}).json()["job_id"]
        for _ in range(300):
            if live_http.get(f"{live_server.url}/jobs/{job_id}").json()["status"] == "failed":
                break
            page.wait_for_timeout(50)

    page.goto(f"{live_server.url}/#/jobs/{job_id}")
    shot = page.wait_for_selector("#job-evidence img[data-name='01-test-failed-1.png']")
    page.wait_for_function("document.querySelector('#job-evidence img').complete")
    assert shot.evaluate("img => img.naturalWidth") > 0
    video = page.wait_for_selector("#job-evidence video[data-name='03-video.webm']")
    page.wait_for_function("document.querySelector('#job-evidence video').readyState >= 1")
    assert live_http.get(live_server.url + video.get_attribute("src")).status_code == 200  # type: ignore[operator]
    trace = page.locator("#job-evidence .trace")
    assert "npx playwright show-trace 02-trace.zip" in trace.inner_text()
    assert "login > logs in" in page.locator("#job-evidence h4").first.inner_text()

    failed = page.locator("#job-report details.report-test[data-status=failed]")
    text = failed.inner_text()
    assert "expect(received).toBe(expected)" in text and "\x1b" not in text
    assert "login.spec.js:12:5" in text and "expect(title).toBe('Welcome')" in text
    assert "tap Log in" in text and "expect toBe" in text
    assert page.locator("#job-report details.report-test[data-status=passed]").count() == 1
    shoot(page, "job-evidence.png")
    assert problems == []


def test_drops_past_the_listed_ones_are_counted_on_the_job_page(tmp_path: Path,
                                                                 page: Page) -> None:
    with serve(fast_settings(tmp_path, artifact_attempt_max_bytes=10)) as live, \
            live_http.client(base_url=live.url) as client:
        agent, job_id, lease = running_job(client)  # type: ignore[arg-type]
        for n in range(DROPS_LISTED + 3):
            over = client.put(f"/agents/{agent}/jobs/{job_id}/artifacts/v{n}.webm",
                              params={"lease_id": lease, "attempt": 1}, content=b"v" * 20)
            assert over.status_code == 413
        page.goto(f"{live.url}/#/jobs/{job_id}")
        dropped = page.wait_for_selector("#job-evidence .dropped")
        items = dropped.query_selector_all("li")
        assert len(items) == DROPS_LISTED + 1 and items[-1].inner_text() == "and 3 more"
