"""The dashboard's Tests page in headless Chromium: a test that failed shows as such with
its runs and duration chart, and the quarantine button quarantines it (and back)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from qgjob.agent.executors.simulate import SimulateExecutor
from tests.agent_thread import running_agent
from tests.conftest import LiveServer
from tests.web import live_http
from tests.web.test_dashboard_browser import shoot

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
TEST = "tests/checkout.spec.js"


def test_the_tests_page_shows_history_and_quarantines(live_server: LiveServer,
                                                      page: Page) -> None:
    job = {"org_id": "acme", "app_version_id": "v1", "test_path": TEST, "max_attempts": 3}
    job_id = live_http.post(f"{live_server.url}/jobs", json=job).json()["job_id"]
    with running_agent(live_server.url, SimulateExecutor(0, 0.05, fail_rate=1.0),
                       devices="emulator:1"):
        page.goto(f"{live_server.url}/#/tests")
        row = f'#test-list tr[data-test="{TEST}"]'
        page.wait_for_selector(f'{row} [data-status="new"]')
        page.wait_for_function(
            f"document.querySelectorAll('{row} .run.failed').length === 2")
    assert page.locator(f"{row} svg.spark polyline").count() == 1
    page.click(f"{row} button.quarantine")
    page.wait_for_selector(f"{row} >> text=quarantined")
    assert [q["test_path"] for q in live_http.get(
        f"{live_server.url}/quarantine").json()["quarantined"]] == [TEST]
    shoot(page, "dashboard-tests.png")
    page.click(f"{row} button.quarantine")
    page.wait_for_selector(f"{row} button.quarantine >> text=Quarantine")
    assert live_http.get(f"{live_server.url}/quarantine").json()["quarantined"] == []
    page.goto(f"{live_server.url}/#/jobs/{job_id}")
    page.wait_for_selector("#job-attempts .note >> text=not retried")
