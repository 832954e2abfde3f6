"""The browser page every dashboard test drives: headless Chromium against a live server,
failing the test if the page's JavaScript throws."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser import chromium, require_chromium
from tests.conftest import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

WAIT_MS = 20_000


@pytest.fixture
def page(live_server: LiveServer) -> Iterator[Page]:
    with chromium(require_chromium()) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(WAIT_MS)
        crashes: list[str] = []
        page.on("pageerror", lambda error: crashes.append(str(error)))
        yield page
        assert crashes == [], crashes
