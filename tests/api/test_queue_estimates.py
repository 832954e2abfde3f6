"""`GET /queue`'s start estimates (the dashboard's "Start ~" and `qgjob queue`) count what
the running tests still need."""

import time
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from qgjob.api.app import create_app
from qgjob.settings import ServerSettings
from tests.api.test_agent_protocol import claim, register

T0 = 1_800_000_000.0

BUILD_A = {"org_id": "qualgent", "app_version_id": "a1", "target": "emulator"}
DEVICES = [{"name": "emulator-1", "target": "emulator"},
           {"name": "emulator-2", "target": "emulator"}]


def run_on_both(client: TestClient, agent: str, report: bool = False) -> None:
    """A test starts on each device (and, with `report`, then passes at once)."""
    started = []
    for device in ["emulator-1", "emulator-2"]:
        job = client.post("/jobs", json={**BUILD_A, "test_path": f"tests/{device}.spec.js"})
        batch = claim(client, agent, device=device, holds="a1" if report is False else None)
        assert [j["job_id"] for j in batch.json()["jobs"]] == [job.json()["job_id"]]
        lease, path = batch.json()["lease_id"], f"/agents/{agent}/jobs/{job.json()['job_id']}"
        client.post(f"{path}/start", json={"lease_id": lease})
        started.append((path, lease))
    for path, lease in started if report else []:
        client.post(f"{path}/report", json={"lease_id": lease, "attempt": 1, "outcome": "passed"})


def waiting_lane(client: TestClient) -> Any:
    client.post("/jobs", json={**BUILD_A, "app_version_id": "b2", "test_path": "tests/x.spec.js"})
    [lane] = [lane for lane in client.get("/queue").json()["lanes"]
              if lane["app_version_id"] == "b2"]
    return lane


def seconds_from_now(iso: str) -> float:
    start = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (start - datetime.now(start.tzinfo)).total_seconds()


def test_a_waiting_build_starts_after_the_running_tests_end(client: TestClient) -> None:
    agent = register(client, DEVICES)
    run_on_both(client, agent)
    lane = waiting_lane(client)
    assert lane["estimated_start_at"] is not None
    assert seconds_from_now(lane["estimated_start_at"]) > 30
    assert "idle" not in lane["reason"]


def test_tests_running_past_their_estimate_are_not_counted_as_done(client: TestClient) -> None:
    agent = register(client, DEVICES)
    run_on_both(client, agent, report=True)  # learned: these tests take no time
    run_on_both(client, agent)  # this time they run long
    time.sleep(0.5)
    lane = waiting_lane(client)
    assert "a device is idle" not in lane["reason"]


def test_a_served_build_says_why_idle_devices_stay_off_it(settings: ServerSettings) -> None:
    """The brief's complaint: an idle emulator beside a build's queued jobs. While builds
    stream in, a build takes the devices its work left is worth at the install's price; the
    queue says how many that is, so the idle device is explained, not a mystery."""
    now = [T0]
    with TestClient(create_app(settings, maintenance=False, clock=lambda: now[0])) as client:
        agent = register(client, [*DEVICES, {"name": "emulator-3", "target": "emulator"}])
        client.post("/jobs", json={**BUILD_A, "app_version_id": "b2",
                                   "test_path": "tests/x.spec.js"})
        assert len(claim(client, agent, device="emulator-1").json()["jobs"]) == 1
        # Two minutes later another build: two builds in the half hour, submitted apart, so
        # builds stream in (a build alone would be a handful, run side by side).
        now[0] += 120
        for name in ["login", "signup", "search"]:
            client.post("/jobs", json={**BUILD_A, "test_path": f"tests/{name}.spec.js"})
        assert len(claim(client, agent, device="emulator-2").json()["jobs"]) == 1
        [lane] = client.get("/queue").json()["lanes"]
    assert (lane["app_version_id"], lane["devices_working"]) == ("a1", 1)
    # Three tests at the target's first guess, against an install priced at two such tests
    # (fewer than four builds on record): round(sqrt(3 / 2)) = 1 device.
    assert lane["devices_worth"] == 1
    assert lane["reason"].startswith("running on 1 device(s), done in ~")
    assert lane["reason"].endswith("its work left is worth 1 device(s) at an install's price "
                                   "of ~2m of turnaround, so no other joins")


def test_a_handful_alone_has_no_device_note(client: TestClient) -> None:
    """One build's handful on an idle fleet runs side by side (no stream of work): nothing
    holds it to a number of devices, and the queue says only its progress."""
    agent = register(client, [*DEVICES, {"name": "emulator-3", "target": "emulator"}])
    for name in ["login", "signup", "search"]:
        client.post("/jobs", json={**BUILD_A, "test_path": f"tests/{name}.spec.js"})
    claim(client, agent)
    [lane] = client.get("/queue").json()["lanes"]
    assert lane["devices_worth"] is None
    assert "worth" not in lane["reason"]
