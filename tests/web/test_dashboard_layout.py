"""Issue 19's layout in headless Chromium: the overview's devices show the test they run with
its build and elapsed time, and a recent-failures panel leads to the failed job; the
timeline's running bar says the same; the jobs list puts the test first, has status tabs
(queued jobs in claim order), a search in builds and tests, errors that open in place, and
loads every match past a thousand with the API's cursor; a queued job's page says where it
stands and why it waits. No console errors throughout."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from qgjob.agent.executors.simulate import SimulateExecutor
from tests.agent_thread import running_agent
from tests.conftest import LiveServer
from tests.web import live_http
from tests.web.test_dashboard_browser import BUILD, shoot
from tests.web.test_dashboard_daily import running

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
ERROR = "expected 200, got 500\n" + "".join(f"    at step {n} (login.spec.js:{n})\n"
                                           for n in range(12))
ROWS = "document.querySelectorAll('#job-list tbody tr').length"


def console_errors(page: Page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 else None)
    return problems


def failed_job(live: LiveServer) -> str:
    agent = running(live, app_version_id="rel-1", test_path="tests/broken.spec.js")
    agent.report("failed", ERROR)
    return agent.job_id


def submit(live: LiveServer, jobs: list[dict[str, Any]]) -> list[str]:
    answer = live_http.post(f"{live.url}/jobs/batch",
                            json={"jobs": [{**BUILD, **j} for j in jobs]})
    assert answer.status_code == 201, answer.text
    return [job["job_id"] for job in answer.json()["jobs"]]


def test_the_overview_shows_what_runs_and_what_failed(live_server: LiveServer,
                                                      page: Page) -> None:
    problems = console_errors(page)
    failed = failed_job(live_server)
    [busy] = submit(live_server, [{"app_version_id": "rel-2",
                                   "test_path": "tests/checkout.spec.js"}])
    with running_agent(live_server.url, SimulateExecutor(0, 30), devices="emulator:1"):
        page.goto(f"{live_server.url}/#/")
        device = "#fleet tr:has(a:text('tests/checkout.spec.js'))"
        page.wait_for_selector(device)
        text = page.inner_text(f"{device} .running-test")
        assert re.fullmatch(r"tests/checkout\.spec\.js on rel-2 · (\d+(\.\d)? s|\d+ ms|starting)",
                            text), text
        assert page.get_attribute(f"{device} .running-test a", "href") == f"#/jobs/{busy}"

        row = f"#recent-failures tr[data-job-id='{failed}']"
        page.wait_for_selector(row)
        cells = page.locator(f"{row} td").all_inner_texts()
        assert cells[:3] == ["tests/broken.spec.js", "rel-1", "qualgent"]
        assert re.fullmatch(r"\d\d:\d\d:\d\d", cells[3])
        assert page.text_content(f"{row} summary") == "expected 200, got 500"
        assert not page.is_visible(f"{row} pre.error-rest")
        page.click(f"{row} summary")
        page.wait_for_selector(f"{row} pre.error-rest >> text=at step 11")
        shoot(page, "dashboard-overview-failures.png")

        page.goto(f"{live_server.url}/#/timeline?window=300")
        label = page.wait_for_selector("svg.gantt .running-label")
        assert label is not None
        assert re.fullmatch(r"checkout\.spec\.js · rel-2 · .+", label.text_content() or "")
        shoot(page, "dashboard-timeline-running.png")

        page.goto(f"{live_server.url}/#/")
        page.click(f"#recent-failures tr[data-job-id='{failed}'] td.test a")
        page.wait_for_selector("#job-fields >> text=expected 200, got 500")
        assert page.url.endswith(f"#/jobs/{failed}")
    assert problems == []


def test_jobs_tabs_search_claim_order_and_a_queued_jobs_place(live_server: LiveServer,
                                                            page: Page) -> None:
    problems = console_errors(page)
    failed = failed_job(live_server)
    # No device of target "device": these wait, and say so.
    low, urgent, normal, high = submit(live_server, [
        {"target": "device", "priority": p, "test_path": f"tests/{name}.spec.js"}
        for name, p in [("low", 1), ("urgent", 5), ("normal", 3), ("high", 4)]])

    page.goto(f"{live_server.url}/#/jobs")
    page.wait_for_function(f"{ROWS} === 5")
    headers = page.locator("#job-list thead th").all_inner_texts()
    assert headers[0].lower() == "test"
    assert {"took", "submitted", "error"} <= {h.lower() for h in headers}
    assert page.text_content(f"tr[data-job-id='{failed}'] td.test") == "tests/broken.spec.js"
    page.click(f"tr[data-job-id='{failed}'] summary")  # the error opens in place
    page.wait_for_selector(f"tr[data-job-id='{failed}'] pre.error-rest >> text=at step 11")
    assert page.url.endswith("#/jobs")

    page.click("#job-tabs a[data-status=queued]")
    page.wait_for_function(f"{ROWS} === 4")
    order = page.locator("#job-list tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.jobId)")
    assert order == [urgent, high, normal, low]
    assert "in the order devices take them" in (page.text_content("#job-count") or "")

    page.click("#job-tabs a[data-status=failed]")
    page.wait_for_function(f"{ROWS} === 1")
    assert page.locator(f"tr[data-job-id='{failed}']").count() == 1

    page.click("#job-tabs a[data-status=all]")
    page.wait_for_function(f"{ROWS} === 5")
    page.fill("input[name=search]", "URG")
    page.press("input[name=search]", "Enter")
    page.wait_for_function(f"{ROWS} === 1")
    assert page.locator(f"tr[data-job-id='{urgent}']").count() == 1
    page.click("#job-tabs a[data-status=queued]")  # the tab keeps the search
    page.wait_for_selector("#job-tabs a.selected[data-status=queued]")
    page.wait_for_function(f"{ROWS} === 1")
    shoot(page, "dashboard-jobs-tabs.png")

    page.goto(f"{live_server.url}/#/jobs/{low}")
    page.wait_for_selector("#job-place:not([hidden])")
    place = page.inner_text("#job-place")
    assert "no device takes work on target device: none online" in place
    assert "3 of its build's 4 queued job(s) go before it" in place
    assert "Its build is 1st of 1 build(s) waiting for a device of target device." in place
    page.goto(f"{live_server.url}/#/jobs/{urgent}")
    page.wait_for_selector("#job-place >> text=It is the next job of its build.")
    shoot(page, "dashboard-queued-job.png")
    page.goto(f"{live_server.url}/#/jobs/{failed}")
    page.wait_for_selector("#job-fields >> text=expected 200, got 500")
    assert page.is_hidden("#job-place")
    assert problems == []


def test_more_than_a_thousand_jobs_load_page_by_page(live_server: LiveServer,
                                                    page: Page) -> None:
    problems = console_errors(page)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/jobs?" in r.url else None)
    for first in (0, 1000):
        submit(live_server, [{"test_path": f"tests/t{n}.spec.js"}
                             for n in range(first, first + (1000 if first == 0 else 30))])
    page.goto(f"{live_server.url}/#/jobs")
    page.wait_for_function(f"{ROWS} === 100")
    shown = 100
    while page.locator("#job-more").count():
        assert page.text_content("#job-count") == f"{shown} jobs shown, newest first; more match"
        page.click("#job-more")
        shown = min(shown + 100, 1030)
        page.wait_for_function(f"{ROWS} === {shown}")
    assert shown == 1030
    assert page.text_content("#job-count") == "1030 job(s), newest first"
    assert any("cursor=" in url for url in asked)  # the last 30 came from a second page
    texts = page.locator("#job-list tbody td.test").all_inner_texts()
    assert len(set(texts)) == 1030
    assert problems == []
