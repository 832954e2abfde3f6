"""Headless Chromium for the dashboard: Debian's `chromium` driven by Playwright for Python.
Nothing downloads a browser: without /usr/bin/chromium the browser tests skip on a
developer's machine and fail in CI (`CI=true`), where .ci/run installs it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).parent.parent / "artifacts"


def chromium_path() -> str | None:
    return os.environ.get("QGJOB_CHROMIUM") or shutil.which("chromium")


def require_chromium() -> str:
    """The browser's path, or skip (outside CI) / fail (in CI) saying what is missing."""
    path = chromium_path()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path, missing = None, "Playwright for Python (pip install '.[test]')"
    else:
        missing = "Debian's chromium (apt-get install chromium)"
    if path is None:
        message = f"the dashboard's browser test needs {missing}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def chromium(path: str) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
