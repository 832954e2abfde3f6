"""The dashboard's Fleet page in headless Chromium against a live server and a real agent:
the agent and its device running a test show with the test and how long it has run, the
Drain button drains the agent (the API says so, the page shows it draining and offers
Undrain), no console errors, and no sideways scrolling on a 390 px phone."""

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
TEST = "tests/fleet.spec.js"


def test_the_fleet_page_drains_an_agent(live_server: LiveServer, page: Page) -> None:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    job = {"org_id": "acme", "app_version_id": "v1", "test_path": TEST}
    live_http.post(f"{live_server.url}/jobs", json=job).raise_for_status()
    with running_agent(live_server.url, SimulateExecutor(0, 30), devices="emulator:2"):
        page.goto(f"{live_server.url}/#/fleet")
        agent = '#fleet-agents tr[data-agent="cli-test"]'
        page.wait_for_selector(f'{agent} [data-status="online"]')
        page.wait_for_selector(f"#fleet-devices tr >> text={TEST}")
        assert page.locator("#fleet-targets tr[data-target=emulator]").count() == 1
        page.click(f"{agent} button.fleet-drain")
        page.wait_for_selector(f'{agent} [data-status="draining"]')
        page.wait_for_selector(f"{agent} button.fleet-undrain")
        listed = live_http.get(f"{live_server.url}/agents").json()["agents"]
        assert [a["draining"] for a in listed if a["name"] == "cli-test"] == [True]
        page.wait_for_selector(f"#fleet-devices tr >> text={TEST}")  # its test runs on
        shoot(page, "dashboard-fleet.png")
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(200)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert errors == []
