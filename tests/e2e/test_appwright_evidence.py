"""Failure evidence from a real AppWright run: `qgjob run` submits the example project's
browser spec (Debian's chromium) with its failure switched on; the agent's appwright executor
runs `npx appwright test`, keeps the screenshot, trace and video Playwright wrote, and uploads
them. In headless Chromium the run page lists the failure first with its screenshot inline,
and the job page shows the screenshot, plays the video and downloads the trace, with the
command that opens it beside it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.browser import chromium, require_chromium
from tests.e2e.test_appwright import EXAMPLE, appwright_lab

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SPEC = "tests/smoke/checkout-page.spec.js"
TEST = "checkout page shows the total"
WAIT_MS = 20_000


def _needed() -> list[str]:
    """What the run needs beyond Python: Node's packages, a browser for the spec."""
    missing = []
    if shutil.which("npx") is None:
        missing.append("npx (Node.js)")
    elif not (EXAMPLE / "node_modules" / "appwright").is_dir():
        missing.append(f"`npm ci` in {EXAMPLE} (.ci/run does it)")
    if not Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")).is_file():
        missing.append("Debian's chromium for the spec (apt-get install chromium)")
    return missing


def _video_expected() -> bool:
    """The example records videos only with an ffmpeg (see examples/appwright/
    playwright-ffmpeg.js); .ci/run installs Debian's."""
    found = Path(os.environ.get("FFMPEG_PATH", "/usr/bin/ffmpeg")).is_file()
    if not found and os.environ.get("CI") == "true":
        pytest.fail("the video check needs Debian's ffmpeg (apt-get install ffmpeg)")
    return found


@pytest.fixture
def example_ready() -> None:
    missing = _needed()
    if missing:
        message = "a real AppWright run needs " + ", ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def test_a_real_failure_leaves_its_screenshot_trace_and_video(
        tmp_path: Path, example_ready: None) -> None:
    browser_path = require_chromium()
    video = _video_expected()
    url, server, agent = appwright_lab(tmp_path, "aw-evidence", timeout=120)
    try:
        ran = subprocess.run(
            [sys.executable, "-m", "qgjob", "--server", url, "run", "--org-id", "acme",
             "--app-version-id", "1.4.2", "--test", SPEC, "--test", "tests/smoke/math.spec.js",
             "--max-attempts", "1", "--timeout", "120"],
            cwd=EXAMPLE, capture_output=True, text=True, timeout=180)
        assert ran.returncode == 1, ran.stdout + ran.stderr + agent.output()  # failed on purpose
        queued = re.search(r"queued as run (\S+)", ran.stdout + ran.stderr)
        assert queued, ran.stdout + ran.stderr
        run_id = queued.group(1)
        run = httpx.get(f"{url}/runs/{run_id}").json()
        [failed] = [t for t in run["tests"] if t["result"] == "failed"]
        assert (failed["test_path"], failed["title"]) == (SPEC, TEST)
        job_id = failed["job_id"]

        kinds = _uploaded_evidence(url, job_id, video)
        _check_pages(browser_path, url, run_id, job_id, kinds)
    finally:
        time.sleep(0.2)
        agent.stop()
        server.stop()


def _uploaded_evidence(url: str, job_id: str, video: bool) -> dict[str, str]:
    """The attempt's files by name -> kind, each served with its type."""
    [attempt] = httpx.get(f"{url}/jobs/{job_id}/artifacts").json()["attempts"]
    assert attempt["dropped"] == []
    kinds = {f["name"]: f["kind"] for f in attempt["files"]}
    expected = {"01-test-failed-1.png": "screenshot", "02-trace.zip": "trace"}
    if video:
        expected["03-video.webm"] = "video"
    assert kinds == expected
    assert {f["test"] for f in attempt["files"]} == {TEST}
    types = {"screenshot": "image/png", "trace": "application/zip", "video": "video/webm"}
    for file in attempt["files"]:
        served = httpx.get(url + file["url"])
        assert served.status_code == 200 and served.content, file
        assert served.headers["content-type"] == types[file["kind"]]
        assert len(served.content) == file["size"]
    shot = httpx.get(url + attempt["files"][0]["url"]).content
    assert shot.startswith(b"\x89PNG\r\n\x1a\n")
    trace = httpx.get(url + attempt["files"][1]["url"])
    assert trace.content.startswith(b"PK") and "attachment" in trace.headers.get(
        "content-disposition", "")
    return kinds


def _check_pages(browser_path: str, url: str, run_id: str, job_id: str,
                 kinds: dict[str, str]) -> None:
    with chromium(browser_path) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        page.set_default_timeout(WAIT_MS)
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)

        page.goto(f"{url}/#/runs/{run_id}")
        first = page.wait_for_selector("#run-tests tbody tr")
        assert first.get_attribute("data-result") == "failed"
        assert TEST in first.inner_text()
        inline = page.wait_for_selector(
            "#run-tests tr[data-result=failed] img[data-name='01-test-failed-1.png']")
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=inline)
        assert page.locator("#run-tests tbody img").count() == 1  # none for the passing test
        page.click(f"#run-tests tbody tr >> a.mono[href*='{job_id}']")

        page.wait_for_function(f"location.hash.includes('{job_id}')")
        shot = page.wait_for_selector("#job-evidence img[data-name='01-test-failed-1.png']")
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=shot)
        assert shot.evaluate("img => img.naturalWidth") > 0
        trace = page.locator("#job-evidence .trace")
        assert "npx playwright show-trace 02-trace.zip" in trace.inner_text()
        with page.expect_download() as saved:
            trace.locator("a[download='02-trace.zip']").click()
        assert saved.value.suggested_filename == "02-trace.zip"
        assert Path(saved.value.path()).read_bytes().startswith(b"PK")
        assert TEST in page.locator("#job-evidence h4").first.inner_text()
        if "03-video.webm" in kinds:
            player = page.wait_for_selector("#job-evidence video[data-name='03-video.webm']")
            page.wait_for_function("(v) => v.readyState >= 1 && v.duration > 0", arg=player)
            player.evaluate("v => v.play()")
            page.wait_for_function("(v) => v.currentTime > 0 || v.ended", arg=player)
            assert player.evaluate("v => v.error") is None
        failed = page.locator("#job-report details.report-test[data-status=failed]")
        assert "Total: 601" in failed.inner_text() and "\x1b" not in failed.inner_text()
        page.close()
    assert problems == []
