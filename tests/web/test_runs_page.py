"""The runs pages in headless Chromium: a run with a failing test shows its failures first;
"Re-run failed" makes a linked run holding only the failed tests and opens it; no console
errors or failed requests; no sideways scroll at 390 px; a cancelled run says when it was
cancelled and that it takes no new jobs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from qgjob.agent.executors.simulate import SimulateExecutor
from tests.agent_thread import running_agent
from tests.browser import chromium, require_chromium
from tests.conftest import LiveServer, fast_settings, serve
from tests.scripted_executor import ScriptedExecutor
from tests.web import live_http
from tests.web.test_dashboard_browser import BUILD, WAIT_MS, shoot
from tests.web.test_dashboard_daily import HandAgent

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
SUITE = ["tests/login.spec.js", "tests/onboarding.spec.js", "tests/smoke/math.spec.js"]


def _finished_run(url: str) -> str:
    run_id = live_http.post(f"{url}/runs", json={"org_id": BUILD["org_id"],
                                                 "app_version_id": BUILD["app_version_id"],
                                                 "name": "nightly suite"}).json()["run_id"]
    jobs = [{**BUILD, "test_path": path, "max_attempts": 1} for path in SUITE]
    assert live_http.post(f"{url}/jobs/batch?run_id={run_id}", json={"jobs": jobs}).is_success
    return run_id


def _wait_finished(page: Page, url: str, run_id: str) -> None:
    for _ in range(300):
        if live_http.get(f"{url}/runs/{run_id}").json()["status"] not in ("queued", "running"):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"run {run_id} did not finish")


def test_rerun_failed_from_the_run_page(live_server: LiveServer, page: Page) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 else None)
    page.set_viewport_size({"width": 390, "height": 844})
    with running_agent(live_server.url, ScriptedExecutor(), devices="emulator:2"):
        run_id = _finished_run(live_server.url)
        _wait_finished(page, live_server.url, run_id)

        page.goto(f"{live_server.url}/#/runs/{run_id}")
        page.wait_for_selector("#run-tests tbody tr")
        results = page.locator("#run-tests tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.result)")
        assert results == ["failed", "passed", "passed", "passed"]
        assert "logs in" in page.locator("#run-tests tbody tr").first.inner_text()
        assert page.locator("#run-cancel").count() == 0
        assert page.locator("#run-cancelled").count() == 0  # finished, never cancelled
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shoot(page, "run-page-390.png")

        page.click("#run-rerun")
        page.wait_for_function(f"location.hash.startsWith('#/runs/') && "
                               f"!location.hash.endsWith('{run_id}')")
        rerun_id = page.evaluate("decodeURIComponent(location.hash.slice(7))")
        _wait_finished(page, live_server.url, rerun_id)
        page.wait_for_selector("#run-fields >> text=re-runs")
        page.wait_for_selector("#run-tests tbody tr[data-result=failed]")
        files = page.locator("#run-tests tbody tr td:nth-child(2)").all_inner_texts()
        assert files and set(files) == {"tests/login.spec.js"}
        assert page.locator(f"#run-fields a[href='#/runs/{run_id}']").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

        page.goto(f"{live_server.url}/#/runs")
        page.wait_for_selector(f"#run-list tr[data-run-id='{rerun_id}']")
        assert page.locator("#run-list tbody tr").count() == 2
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shoot(page, "runs-390.png")
    assert problems == []


def test_a_refused_action_stays_shown_until_dismissed(live_server: LiveServer,
                                                     page: Page) -> None:
    """A refusal used to vanish at once: the refresh after the click (and after every change)
    hid it, so "Cancel run" on a run that finished meanwhile looked like it did nothing."""
    url = live_server.url
    run_id = _finished_run(url)  # no agent: its jobs wait, and Cancel run shows
    page.goto(f"{url}/#/runs/{run_id}")
    page.wait_for_selector("#run-cancel")

    def cancelled_meanwhile(route: Route) -> None:
        live_http.post(f"{url}/runs/{run_id}/cancel").raise_for_status()
        route.continue_()

    page.route(f"**/runs/{run_id}/cancel", cancelled_meanwhile)
    page.click("#run-cancel")
    refusal = page.locator("#action-problem")
    refusal.locator("text=Cannot cancel").wait_for()
    page.wait_for_selector("#run-fields [data-status=cancelled]")
    live_http.post(f"{url}/jobs", json={**BUILD, "test_path": "tests/other.spec.js"})  # a change
    page.wait_for_timeout(2500)  # the refreshes after the click and after the change
    assert refusal.is_visible()
    assert "has finished" in refusal.inner_text()
    shoot(page, "run-action-refused.png")
    refusal.locator("button.dismiss").click()
    assert refusal.is_hidden()


def test_a_refused_fleet_action_stays_shown_until_the_next_action(
        live_server: LiveServer, page: Page) -> None:
    """The Fleet buttons share the runs page's way of acting; a 503 writes_refused (a full
    disk) was as invisible as a 409."""
    url = live_server.url
    agent = '#fleet-agents tr[data-agent="cli-test"]'
    refused = {"detail": "the database refuses writes (disk full)", "code": "writes_refused"}
    with running_agent(url, SimulateExecutor(0, 30), devices="emulator:1"):
        page.route("**/agents/cli-test/drain",
                   lambda route: route.fulfill(status=503, json=refused))
        page.goto(f"{url}/#/fleet")
        page.click(f"{agent} button.fleet-drain")
        refusal = page.locator("#action-problem")
        refusal.locator("text=Cannot drain cli-test: the database refuses writes").wait_for()
        live_http.post(f"{url}/jobs", json={**BUILD, "test_path": "tests/other.spec.js"})
        page.wait_for_timeout(2500)  # the refreshes after the click and after the change
        assert refusal.is_visible()
        page.unroute("**/agents/cli-test/drain")
        page.click(f"{agent} button.fleet-drain")  # the next action
        page.wait_for_selector(f'{agent} [data-status="draining"]')
        assert refusal.is_hidden()


def test_a_cancelled_run_says_when_and_that_it_takes_no_new_jobs(tmp_path: Path) -> None:
    """The run page showed nothing of a cancel: a run cancelled while a job ran still read
    `running` (its jobs' status, as the API says), with no sign that it refuses new jobs
    (409 run_finished). A 30 s lease: the hand agent's job must not be requeued mid-test."""
    problems: list[str] = []
    with (serve(fast_settings(tmp_path, lease_seconds=30.0)) as live,
          chromium(require_chromium()) as browser):
        url = live.url
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        run_id = live_http.post(f"{url}/runs", json={
            "org_id": BUILD["org_id"], "app_version_id": BUILD["app_version_id"],
            "name": "nightly suite"}).json()["run_id"]
        job = {**BUILD, "test_path": "tests/long.spec.js", "max_attempts": 1}
        [queued] = live_http.post(f"{url}/jobs/batch?run_id={run_id}",
                                  json={"jobs": [job]}).json()["jobs"]
        hand = HandAgent(url, queued["job_id"])
        try:
            page.goto(f"{url}/#/runs/{run_id}")
            page.wait_for_selector("#run-fields [data-status=running]")
            assert page.locator("#run-cancelled").count() == 0

            page.click("#run-cancel")  # the page refreshes after it
            note = page.locator("#run-cancelled")
            note.wait_for()
            cancelled = live_http.get(f"{url}/runs/{run_id}").json()
            assert cancelled["status"] == "running" and cancelled["cancelled_at"]
            refused = live_http.post(f"{url}/jobs?run_id={run_id}",
                                     json={**job, "test_path": "tests/late.spec.js"})
            assert refused.status_code == 409  # what the page says
            at = page.evaluate("iso => new Date(iso).toLocaleTimeString([], { hour12: false })",
                               cancelled["cancelled_at"])
            assert note.inner_text() == f"cancelled at {at}: it takes no new jobs"
            assert page.locator("#run-fields [data-status=running]").count() == 1
            assert page.locator("#main h1 [data-status=running]").count() == 1
            assert page.locator("#run-cancel").count() == 0  # its job stops: no second cancel
            shoot(page, "run-cancelled.png")
        finally:
            hand.done.set()
    assert problems == []
