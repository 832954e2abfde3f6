"""The dashboard in a real browser: jobs submitted through the API appear, change state
without a reload, and a job's page shows its attempts, per-test results, files and logs.
Screenshots land in artifacts/ (git-ignored) for a person to look at."""

from __future__ import annotations

import os
import shutil
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from qgjob.agent.executors.appwright import AppWrightExecutor
from qgjob.agent.executors.simulate import SimulateExecutor
from qgjob.auth.tokens import Role
from tests.agent_thread import running_agent
from tests.browser import ARTIFACTS, chromium, require_chromium
from tests.conftest import LiveServer
from tests.web import live_http
from tests.web.conftest import WAIT_MS

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

    from qgjob.settings import ServerSettings

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
BUILD = {"org_id": "qualgent", "app_version_id": "xyz123", "target": "emulator"}
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "appwright"


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
    assert (ARTIFACTS / name).stat().st_size > 0


def status_of(job_id: str, status: str) -> str:
    return f'tr[data-job-id="{job_id}"] .status [data-status="{status}"]'


def test_jobs_appear_change_state_live_and_show_their_logs(live_server: LiveServer,
                                                           page: Page) -> None:
    page.goto(f"{live_server.url}/#/jobs")
    page.wait_for_selector("#live.on")  # the event stream is open
    page.evaluate("window.sameDocument = true")

    tests = ["tests/onboarding.spec.js", "tests/login.spec.js", "tests/checkout.spec.js"]
    body = {"jobs": [{**BUILD, "test_path": test} for test in tests]}
    submitted = live_http.post(f"{live_server.url}/jobs/batch", json=body).json()["jobs"]
    ids = [job["job_id"] for job in submitted]
    for job_id in ids:  # no device yet: they appear, queued
        page.wait_for_selector(status_of(job_id, "queued"))
    shoot(page, "dashboard-jobs-queued.png")

    with running_agent(live_server.url, SimulateExecutor(0.2, 0.5), devices="emulator:2"):
        for job_id in ids:
            page.wait_for_selector(status_of(job_id, "completed"))
        shoot(page, "dashboard-jobs-completed.png")
        assert page.evaluate("window.sameDocument") is True  # no reload happened

        page.click(f'tr[data-job-id="{ids[0]}"]')
        page.wait_for_selector('#job-attempts [data-status="passed"]')
        logs = live_http.get(f"{live_server.url}/jobs/{ids[0]}/logs")
        if logs.status_code == 200 and logs.text.strip():
            assert page.text_content("#job-logs-text") == logs.text
        else:
            assert page.text_content("#job-logs-none") == "no output recorded"
        assert "tests/onboarding.spec.js" in page.text_content("h1")  # type: ignore[operator]
        shoot(page, "dashboard-job.png")

        page.click("nav a[data-view=timeline]")
        page.wait_for_selector("svg.gantt rect.install")
        assert page.locator("svg.gantt rect.test").count() >= len(ids)
        shoot(page, "dashboard-timeline.png")

        page.click("nav a[data-view=overview]")
        page.wait_for_selector("#fleet td >> text=cli-test")
        shoot(page, "dashboard-overview.png")


def test_the_job_filter_and_a_failed_job(live_server: LiveServer, page: Page) -> None:
    failing = {**BUILD, "test_path": "tests/broken.spec.js", "max_attempts": 1}
    job_id = live_http.post(f"{live_server.url}/jobs", json=failing).json()["job_id"]
    waiting = {**BUILD, "test_path": "tests/ok.spec.js", "org_id": "acme", "target": "device"}
    live_http.post(f"{live_server.url}/jobs", json=waiting)  # no device of that target: it waits
    with running_agent(live_server.url, SimulateExecutor(0.1, 0.1, fail_rate=1.0),
                       devices="emulator:1"):
        page.goto(f"{live_server.url}/#/jobs?status=failed")
        page.wait_for_selector(status_of(job_id, "failed"))
        assert page.locator("#job-list tbody tr").count() == 1
        page.click("#job-tabs a[data-status=all]")
        page.wait_for_selector("#job-tabs a.selected[data-status=all]")
        page.fill("input[name=org_id]", "acme")
        page.press("input[name=org_id]", "Enter")
        # both rows show under "all" before the filter applies: wait for the other org's to go
        page.wait_for_selector(f'tr[data-job-id="{job_id}"]', state="detached")
        page.wait_for_selector("#job-list tbody tr >> text=tests/ok.spec.js")
        assert page.locator("#job-list tbody tr").count() == 1
        page.goto(f"{live_server.url}/#/jobs/{job_id}")
        page.wait_for_selector('#job-attempts [data-status="failed"]')
        assert "simulated failure" in page.text_content("#job-fields")  # type: ignore[operator]
        shoot(page, "dashboard-failed-job.png")


@pytest.mark.parametrize(("address", "title"), [("#/jobs/%", "Job %"),
                                              ("#/runs/%E0%A4%A", "Run %E0%A4%A")])
def test_an_address_with_a_malformed_escape_is_an_id_that_cannot_load(
        live_server: LiveServer, page: Page, address: str, title: str) -> None:
    """decodeURIComponent threw URIError: #main stayed empty on a fresh load, or kept the
    previous page. Now it is an unknown id like any other (`#/jobs/nonexistent`)."""
    page.goto(f"{live_server.url}/#/jobs")
    page.wait_for_selector("#job-list")
    page.goto(f"{live_server.url}/{address}")  # from another page: only the hash changes
    for load in ("from the jobs page", "loaded afresh"):
        page.wait_for_selector("#problem:not([hidden])")
        problem = page.text_content("#problem") or ""
        assert problem.startswith("Cannot load this page: "), (load, problem)
        assert page.text_content("#main h1") == title, load
        assert page.locator("#job-list").count() == 0, load
        page.reload()


def test_a_job_page_shows_per_test_results_and_report_files(live_server: LiveServer,
                                                            page: Page) -> None:
    """The example AppWright project's device-free spec, run for real by the appwright
    executor: its Playwright report becomes rows on the job's page."""
    missing = None
    if shutil.which("npx") is None:
        missing = "npx (Node.js) is not installed"
    elif not (EXAMPLE / "node_modules" / "appwright").is_dir():
        missing = f"run `npm ci` in {EXAMPLE} first (.ci/run does)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    executor = AppWrightExecutor(EXAMPLE, projects={"emulator": "local"},
                                 build_template="https://builds.invalid/{app_version_id}.apk",
                                 timeout_seconds=180)
    job = {**BUILD, "test_path": "tests/smoke/math.spec.js", "max_attempts": 1}
    job_id = live_http.post(f"{live_server.url}/jobs", json=job).json()["job_id"]
    with running_agent(live_server.url, executor, devices="emulator:1"):
        page.goto(f"{live_server.url}/#/jobs/{job_id}")
        page.wait_for_selector('#job-attempts [data-status="passed"]', timeout=180_000)
        page.wait_for_selector("#job-tests tbody tr")
        rows = page.locator("#job-tests tbody tr").all_inner_texts()
        assert [row.split("\t")[:2] for row in rows] == [
            ["smoke: pure logic > adds numbers", "passed"],
            ["smoke: pure logic > formats a build label", "passed"]]
        links = page.locator("#job-files a").all_inner_texts()
        assert sorted(links) == ["junit.xml", "report.json"]
        assert "npx appwright test" in page.text_content("#job-logs-text")  # type: ignore[operator]
        shoot(page, "dashboard-job-tests.png")


def _with_tokens(tmp_path: Path, *grants: tuple[Role, str | None]
                 ) -> tuple[ServerSettings, dict[Role, str]]:
    """A live server's settings whose database already holds a token of each (role, org):
    from then on every request needs one. The secrets, by role."""
    from qgjob.auth import tokens
    from qgjob.store import open_store
    from tests.conftest import fast_settings

    settings = fast_settings(tmp_path)
    secrets = {}
    with closing(open_store(settings.resolved_database_url)) as store:
        for role, org in grants:
            record, secrets[role] = tokens.issue(role, org, 0.0)
            store.insert_token(record)
    return settings, secrets


def test_with_tokens_the_dashboard_asks_for_one_and_stays_live(tmp_path: Path) -> None:
    """Once tokens exist the page asks for one, then reads (and follows the change events)
    with it."""
    from tests.conftest import serve

    settings, secrets = _with_tokens(tmp_path, (Role.ADMIN, None))
    secret = secrets[Role.ADMIN]
    auth = {"Authorization": f"Bearer {secret}"}
    with serve(settings) as live, chromium(require_chromium()) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(WAIT_MS)
        page.goto(f"{live.url}/#/jobs")
        page.wait_for_selector("#token-form:not([hidden])")
        assert live_http.get(f"{live.url}/jobs").status_code == 401
        page.fill("#token-form input[name=token]", secret)
        page.click("#token-form button")
        page.wait_for_selector("#live.on")  # the event stream, read with the token
        page.wait_for_selector("#token-form", state="hidden")
        job = {**BUILD, "test_path": "tests/token.spec.js"}
        job_id = live_http.post(f"{live.url}/jobs", json=job, headers=auth).json()["job_id"]
        page.wait_for_selector(status_of(job_id, "queued"))  # seen live, no reload
        with running_agent(live.url, SimulateExecutor(0.1, 0.2), devices="emulator:1",
                           token=secret):
            page.wait_for_selector(status_of(job_id, "completed"))
        page.click(f'tr[data-job-id="{job_id}"]')
        page.wait_for_selector("#job-logs-text")
        shoot(page, "dashboard-with-token.png")
        page.click("#forget-token")
        page.wait_for_selector("#token-form:not([hidden])")


def test_a_submitter_token_opens_the_timeline_without_a_refused_request(
        tmp_path: Path) -> None:
    """The page learned that a submitter's token may not read GET /timeline (every org's
    work) from the 403 itself: one refused request in each tab's console and network log.
    It knows from GET /devices (`may_read_all`: an admin's, off a public dashboard) and
    does not ask: no 4xx, no console error, across refreshes, pages and reloads."""
    from tests.conftest import serve

    settings, secrets = _with_tokens(tmp_path, (Role.ADMIN, None),
                                     (Role.SUBMITTER, BUILD["org_id"]))
    submitter = {"Authorization": f"Bearer {secrets[Role.SUBMITTER]}"}
    with serve(settings) as live, chromium(require_chromium()) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(WAIT_MS)
        problems: list[str] = []
        asked: list[str] = []  # requests for the timeline
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
                if r.status >= 400 else None)
        page.on("request", lambda r: asked.append(r.url) if "/timeline?" in r.url else None)
        page.goto(f"{live.url}/static/app.css")  # the origin, to hold the tab's token
        page.evaluate("secret => sessionStorage.setItem('qgjob-token', secret)",
                      secrets[Role.SUBMITTER])

        page.goto(f"{live.url}/#/timeline")
        note = page.locator("#timeline-refused")
        note.wait_for()
        page.wait_for_selector("#live.on")
        link = page.locator('nav a[data-view="timeline"]')
        assert link.is_hidden() and page.locator("#problem").is_hidden()
        live_http.post(f"{live.url}/jobs", json={**BUILD, "test_path": "tests/a.spec.js"},
                       headers=submitter).raise_for_status()  # a change: a refresh
        page.wait_for_timeout(1200)
        page.click('nav a[data-view="fleet"]')
        page.wait_for_selector("#fleet-agents")
        page.evaluate("location.hash = '#/timeline'")
        note.wait_for()
        page.reload()  # nothing remembered but the token
        note.wait_for()
        assert link.is_hidden()
        page.wait_for_timeout(600)
        assert page.locator("#problem").is_hidden()
    assert asked == [] and problems == []


def test_a_submitter_token_on_a_public_dashboard_sees_the_timeline(tmp_path: Path) -> None:
    """With QGJOB_PUBLIC_DASHBOARD=true anyone reads GET /timeline, a submitter's token too;
    the page used to go by `may_operate` (an admin's) and tell that token the timeline
    needs an admin's. It goes by GET /devices' `may_read_all`: the chart, and the nav link."""
    from dataclasses import replace

    from tests.conftest import serve

    settings, secrets = _with_tokens(tmp_path, (Role.ADMIN, None),
                                     (Role.SUBMITTER, BUILD["org_id"]))
    settings = replace(settings, public_dashboard=True)
    with serve(settings) as live, chromium(require_chromium()) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(WAIT_MS)
        problems: list[str] = []
        asked: list[int] = []  # the statuses of /timeline's answers
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("response", lambda r: asked.append(r.status) if "/timeline?" in r.url else None)
        page.goto(f"{live.url}/static/app.css")  # the origin, to hold the tab's token
        page.evaluate("secret => sessionStorage.setItem('qgjob-token', secret)",
                      secrets[Role.SUBMITTER])

        page.goto(f"{live.url}/#/timeline")
        page.wait_for_selector("#live.on")
        page.wait_for_selector("#gantt")
        for _ in range(50):  # let the response event of the chart's request land
            if asked:
                break
            page.wait_for_timeout(100)
        assert page.locator("#timeline-refused").count() == 0
        assert page.locator('nav a[data-view="timeline"]').is_visible()
        assert page.locator("#problem").is_hidden()
    assert asked and set(asked) == {200} and problems == []


def test_a_submitter_token_is_told_the_timeline_is_for_admins_and_stops_asking(
        tmp_path: Path) -> None:
    """GET /timeline shows every org's work, so a submitter's token gets 403. The page used
    to show "Cannot load this page" and ask again at every refresh; now it says why once,
    leaves the nav, and asks no more until the token changes. It does not ask at all: GET
    /devices says the token may not read every org's work (`may_read_all`)."""
    from tests.conftest import serve

    settings, secrets = _with_tokens(tmp_path, (Role.ADMIN, None),
                                     (Role.SUBMITTER, BUILD["org_id"]))
    submitter = {"Authorization": f"Bearer {secrets[Role.SUBMITTER]}"}
    with serve(settings) as live, chromium(require_chromium()) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(WAIT_MS)
        asked: list[int] = []  # the statuses of /timeline's answers
        page.on("response", lambda r: asked.append(r.status) if "/timeline?" in r.url else None)

        def sign_in(role: Role) -> None:
            page.wait_for_selector("#token-form:not([hidden])")
            page.fill("#token-form input[name=token]", secrets[role])
            page.click("#token-form button")
            page.wait_for_selector("#live.on")

        page.goto(f"{live.url}/#/timeline")
        sign_in(Role.SUBMITTER)
        note = page.locator("#timeline-refused")
        note.wait_for()
        assert "needs an admin token" in note.inner_text()
        link = page.locator('nav a[data-view="timeline"]')
        assert link.is_hidden() and page.locator("#problem").is_hidden()
        for name in ["a", "b"]:  # changes: each refreshes the page
            live_http.post(f"{live.url}/jobs", json={**BUILD, "test_path": f"tests/{name}.spec.js"},
                           headers=submitter).raise_for_status()
            page.wait_for_timeout(1200)
        page.click('nav a[data-view="jobs"]')
        page.wait_for_selector("#job-list tbody tr")
        page.evaluate("location.hash = '#/timeline'")
        note.wait_for()
        page.wait_for_timeout(600)
        assert page.locator("#problem").is_hidden()
        assert asked == [401]  # before the token; with it, never
        shoot(page, "dashboard-timeline-submitter.png")

        # GET /devices's answer coming after the user left the page: no banner on the next
        # page, and the refusal is remembered all the same.
        held: list[Route] = []
        page.route("**/devices", lambda route: held.append(route))
        page.reload()  # the same token, nothing remembered yet
        page.wait_for_function("document.querySelector('#main h1')?.textContent === "
                               "'Device timeline'")
        page.click('nav a[data-view="jobs"]')
        held[0].continue_()  # not an admin's token, said while the Jobs page shows
        page.wait_for_selector("#job-list tbody tr")
        page.wait_for_timeout(600)
        assert page.locator("#problem").is_hidden()
        page.unroute("**/devices")
        assert link.is_hidden() and asked == [401]

        page.click("#forget-token")
        sign_in(Role.ADMIN)
        link.click()
        page.wait_for_selector("#gantt")
        assert note.count() == 0
        page.wait_for_function("true")  # let the response event of the chart's request land
        for _ in range(50):
            if len(asked) > 1:
                break
            page.wait_for_timeout(100)
        assert asked[1] == 200  # the admin token's
