"""The API docs the dashboard links to ("API": /docs) in headless Chromium with every other
host unreachable: Swagger UI renders the API's operations from the server's own files, with
no console errors."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def offline(page: Page, live: LiveServer) -> list[str]:
    """Requests to any other host fail, as they would offline; returns what was asked."""
    own = urlsplit(live.url).netloc
    elsewhere: list[str] = []

    def route(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    return elsewhere


def test_swagger_ui_works_offline(live_server: LiveServer, page: Page) -> None:
    elsewhere = offline(page, live_server)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/docs")
    page.wait_for_selector(".opblock-summary-path >> text=/runs")
    assert page.locator(".opblock").count() > 20
    assert elsewhere == [] and errors == []

