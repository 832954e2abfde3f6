"""Screenshots of the dashboard for the docs: starts `qgjob up` with simulated devices on a
free port, submits a few orgs' builds in waves, and captures the overview (while work
waits) and the device timeline (once some has run) with headless Chromium.

    python -m benchmarks.dashboard_screenshots [--out docs] [--seconds 150]
"""

from __future__ import annotations

import argparse
import random
import signal
import tempfile
import time
from pathlib import Path

import httpx

from tests.browser import chromium, chromium_path
from tests.e2e.processes import Process, free_port, wait_healthy

DEVICES = "emulator:5,device:2,browserstack:2"
ORGS = ["qualgent", "acme", "globex"]
TESTS = ["onboarding", "login", "checkout", "search", "profile", "settings", "payments",
         "cart", "share", "logout"]
VIEWPORT = {"width": 1440, "height": 1000}


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
    options = parser.parse_args()
    path = chromium_path()
    if path is None:
        raise SystemExit("needs Debian's chromium: apt-get install chromium")
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
    options.out.mkdir(parents=True, exist_ok=True)
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
