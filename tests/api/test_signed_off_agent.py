"""An agent session that signed off has ended, as one taken over has: it claims nothing (404
`register_again`, also for a claim that was waiting when the sign-off landed), its heartbeats
are unknown (they neither bring it back online nor extend a lease) and its installs are
refused. Sign-off leaves leases alone (an agent signs off once its work is handed back): what
a lease it still holds ran keeps the lease's rules, so its report counts until the lease runs
out and is rescued."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qgjob.api.app import create_app
from qgjob.settings import ServerSettings
from tests.api.test_agent_protocol import JOB, claim, register
from tests.postgres import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def server(url: str, claim_poll_seconds: float = 0.2) -> TestClient:
    return TestClient(create_app(ServerSettings(
        database_url=url, heartbeat_seconds=0.2, claim_poll_seconds=claim_poll_seconds),
        maintenance=False))


@pytest.fixture
def client(store_url: str) -> Iterator[TestClient]:
    with server(store_url) as test_client:
        yield test_client


def sign_off(client: TestClient, agent: str) -> None:
    assert client.post(f"/agents/{agent}/sign-off").status_code == 204
    [listed] = [a for a in client.get("/agents").json()["agents"] if a["agent_id"] == agent]
    assert listed["state"] == "offline"
    assert {d["state"] for d in listed["devices"]} == {"offline"}


def assert_register_again(response: Any) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "register_again"


def assert_untouched(client: TestClient, job_id: str) -> None:
    job = client.get(f"/jobs/{job_id}").json()
    assert (job["status"], job["device"], job["attempts"]) == ("queued", None, 0)


def test_a_signed_off_session_claims_nothing(client: TestClient) -> None:
    agent = register(client)
    sign_off(client, agent)
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    assert_register_again(claim(client, agent, wait=1))
    assert_untouched(client, job_id)
    # as a session that was taken over is told
    again = register(client)
    sign_off(client, again)
    assert_register_again(claim(client, again))
    assert_untouched(client, job_id)


def test_a_claim_waiting_when_the_session_signs_off_takes_no_work(store_url: str) -> None:
    # The safety-net poll is longer than the claim's wait: the submit's wake-up makes the
    # waiting claim look again, after the sign-off.
    with server(store_url, claim_poll_seconds=60.0) as client:
        agent = register(client)
        answers: list[Any] = []
        waiting = threading.Thread(target=lambda: answers.append(claim(client, agent, wait=20)))
        waiting.start()
        service = client.app.state.service  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while service.waiters.waiting_count("emulator") == 0:
            assert time.monotonic() < deadline, "the claim never waited"
            threading.Event().wait(0.01)
        sign_off(client, agent)
        job_id = client.post("/jobs", json=JOB).json()["job_id"]
        waiting.join(timeout=30)
        assert not waiting.is_alive()
        assert_register_again(answers[0])
        assert_untouched(client, job_id)


def test_a_signed_off_session_stays_ended(client: TestClient) -> None:
    agent = register(client)
    sign_off(client, agent)
    beat = client.post(f"/agents/{agent}/heartbeat", json={"devices": [
        {"name": "emulator-1", "state": "idle", "holds_app_version_id": None}]})
    assert beat.status_code == 200 and beat.json()["known"] is False
    [listed] = client.get("/agents").json()["agents"]
    assert listed["state"] == "offline"  # a heartbeat does not bring it back
    install = client.post(f"/agents/{agent}/installs", json={
        "device": "emulator-1", "app_version_id": "xyz123", "target": "emulator",
        "seconds": 1.0, "ok": True})
    assert_register_again(install)
    assert client.get("/timeline").json()["devices"] == []  # the install was not recorded
    assert client.post(f"/agents/{agent}/sign-off").status_code == 204  # harmless again
    # its name is free: a new process registers under it without naming this session
    fresh = register(client)
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    assert [j["job_id"] for j in claim(client, fresh).json()["jobs"]] == [job_id]
    assert_register_again(claim(client, agent))


def test_work_in_flight_at_sign_off_keeps_its_lease(client: TestClient) -> None:
    for i in range(2):
        client.post("/jobs", json={**JOB, "test_path": f"t{i}.spec.js"})
    agent = register(client, [{"name": "emulator-1", "target": "emulator"},
                              {"name": "emulator-2", "target": "emulator"}])
    running = claim(client, agent, device="emulator-1").json()
    held = claim(client, agent, device="emulator-2").json()
    [first] = [j["job_id"] for j in running["jobs"]]
    [second] = [j["job_id"] for j in held["jobs"]]
    started = client.post(f"/agents/{agent}/jobs/{first}/start",
                          json={"lease_id": running["lease_id"]})
    assert started.status_code == 200
    sign_off(client, agent)
    # no new batch for its devices; the batches it held keep their leases' rules
    assert_register_again(claim(client, agent, device="emulator-1"))
    out = client.post(f"/agents/{agent}/jobs/{first}/output",
                      json={"lease_id": running["lease_id"], "attempt": 1, "text": "ran\n"})
    assert out.status_code == 204
    report = {"lease_id": running["lease_id"], "attempt": 1, "outcome": "passed"}
    done = client.post(f"/agents/{agent}/jobs/{first}/report", json=report)
    assert done.status_code == 200 and done.json()["status"] == "completed"
    back = client.post(f"/agents/{agent}/leases/{held['lease_id']}/release",
                       json={"job_ids": [second]})
    assert back.status_code == 200 and back.json()["count"] == 1
    job = client.get(f"/jobs/{second}").json()
    assert (job["status"], job["device"], job["attempts"]) == ("queued", None, 0)


def test_the_log_says_signed_off_only_when_a_session_ended(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    """A sign-off for a session that never was (or ended before) is answered as done, 204:
    the session is not running; but the log said it had signed off."""
    agent = register(client)
    with caplog.at_level(logging.INFO, logger="qgjob.server"):
        assert client.post("/agents/nope/sign-off").status_code == 204
        sign_off(client, agent)
        assert client.post(f"/agents/{agent}/sign-off").status_code == 204
    said = [r.getMessage() for r in caplog.records if "signed off" in r.getMessage()]
    assert said == [f"agent session {agent} signed off"]

