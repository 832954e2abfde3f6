"""Screenshots of the dashboard for the docs: starts `qgjob up` with simulated devices on a
free port, submits a few orgs' builds in waves, and captures the overview (while work
waits) and the device timeline (once some has run) with headless Chromium; then a run's
page, from a suite run in a server of its own by a scripted executor (one spec file fails
one of its two tests, the others pass), so the page shows a failure first.

    python -m benchmarks.dashboard_screenshots [--out docs] [--seconds 150] [--only run]
"""

from __future__ import annotations

import argparse
import random
import signal
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import ViewportSize

from tests.agent_thread import running_agent
from tests.browser import chromium, chromium_path
from tests.conftest import fast_settings, serve
from tests.e2e.processes import Process, free_port, wait_healthy
from tests.scripted_executor import ScriptedExecutor

DEVICES = "emulator:5,device:2,browserstack:2"
ORGS = ["qualgent", "acme", "globex"]
TESTS = ["onboarding", "login", "checkout", "search", "profile", "settings", "payments",
         "cart", "share", "logout"]
VIEWPORT: ViewportSize = {"width": 1440, "height": 1000}
SUITE = ["tests/onboarding.spec.js", "tests/login.spec.js", "tests/checkout.spec.js",
         "tests/search.spec.js", "tests/profile.spec.js", "tests/settings.spec.js"]


def submit_wave(url: str, rng: random.Random, builds: int) -> None:
    jobs = []
    for _ in range(builds):
        org = rng.choice(ORGS)
        app = f"{org[:2]}-{rng.randrange(16**4):04x}"
        target = rng.choice(["emulator", "emulator", "device", "browserstack"])
        priority = rng.choice([1, 3, 3, 3, 4, 5])
        for test in rng.sample(TESTS, rng.randint(3, len(TESTS))):
            jobs.append({"org_id": org, "app_version_id": app, "target": target,
                         "priority": priority, "test_path": f"tests/{test}.spec.js"})
    httpx.post(f"{url}/jobs/batch", json={"jobs": jobs}, timeout=30).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--only", choices=["overview", "run"],
                        help="only the overview and timeline, or only the run page")
    options = parser.parse_args()
    path = chromium_path()
    if path is None:
        raise SystemExit("needs Debian's chromium: apt-get install chromium")
    options.out.mkdir(parents=True, exist_ok=True)
    if options.only != "overview":
        capture_run_page(path, options.out)
    if options.only != "run":
        capture_overview(path, options)


def capture_run_page(path: str, out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder, serve(fast_settings(Path(folder))) as live, \
            running_agent(live.url, ScriptedExecutor(test_seconds=0.4), devices="emulator:3"):
        run = httpx.post(f"{live.url}/runs", json={
            "org_id": "acme", "app_version_id": "4f2a9c1", "name": "nightly suite",
            "source": {"repository": "acme/shop-app", "workflow": "e2e", "ci_run_id": "8812",
                       "ci_run_attempt": 1, "commit_sha": "4f2a9c1", "branch": "main"}}).json()
        jobs = [{"org_id": "acme", "app_version_id": "4f2a9c1", "test_path": test,
                 "max_attempts": 2} for test in SUITE]
        httpx.post(f"{live.url}/jobs/batch?run_id={run['run_id']}",
                   json={"jobs": jobs}).raise_for_status()
        deadline = time.monotonic() + 60
        while httpx.get(f"{live.url}/runs/{run['run_id']}").json()["status"] in (
                "queued", "running"):
            if time.monotonic() > deadline:
                raise SystemExit("the run did not finish in a minute")
            time.sleep(0.2)
        with chromium(path) as browser:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{live.url}/#/runs/{run['run_id']}")
            page.wait_for_selector("#run-tests tbody tr")
            page.screenshot(path=str(out / "run-page.png"), full_page=True)
    print(f"wrote {out / 'run-page.png'}")


def capture_overview(path: str, options: argparse.Namespace) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        up = Process("up", "--port", str(port), "--db", f"sqlite:///{folder}/demo.db",
                     "--devices", DEVICES, "--install-seconds", "5", "--test-seconds", "4",
                     "--fail-rate", "0.12", log=Path(folder) / "up.log")
        try:
            wait_healthy(url, up)
            capture(url, path, options, rng)
        finally:
            up.stop(signal.SIGINT)


def capture(url: str, path: str, options: argparse.Namespace, rng: random.Random) -> None:
    """Waves of builds; the overview right after the last wave (work waits), the timeline a
    little later (devices still busy)."""
    waves = 5
    with chromium(path) as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{url}/#/")
        for wave in range(waves):
            submit_wave(url, rng, builds=5 + wave)
            time.sleep(options.seconds / (waves + 1) if wave < waves - 1 else 3)
        page.wait_for_selector("#waiting table")
        page.screenshot(path=str(options.out / "dashboard.png"), full_page=True)
        time.sleep(options.seconds / (waves + 1))
        page.goto(f"{url}/#/timeline?window=300")
        page.wait_for_selector("svg.gantt rect.test")
        time.sleep(1)
        page.screenshot(path=str(options.out / "dashboard-timeline.png"), full_page=True)
    print(f"wrote {options.out / 'dashboard.png'} and {options.out / 'dashboard-timeline.png'}")

if __name__ == "__main__":
    main()
