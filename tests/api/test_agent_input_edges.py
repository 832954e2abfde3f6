"""Agent requests a probe found answered wrongly: durations of `NaN`, `Infinity` or 1e308
taken (and then shown as null), devices reporting jobs that are not theirs, an install for
the wrong target taken, an unknown lease released, and 422s or 409s without their shape or
`code`. Each is a clear 4xx that stores nothing."""

from __future__ import annotations

import math
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from qgjob.agent.client import _case
from qgjob.auth.tokens import Role
from qgjob.domain.models import CaseResult
from qgjob.protocol import limits
from qgjob.store.sql.output import save_cases
from tests.api.test_access_settings import app_with, bearer, issue
from tests.api.test_agent_protocol import JOB, claim, register, running_job
from tests.conftest import LiveServer

JSON = {"content-type": "application/json"}


def _is_invalid_input(answer: Any, field: str, says: str) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["code"] == "invalid_input"
    assert body["detail"] == f"{field}: {says}"
    assert body["errors"] == [{"field": field, "message": says}]


# 1. Durations and windows are finite numbers, a day at most.

@pytest.mark.parametrize(("raw", "says"), [
    ("Infinity", "Input should be a finite number"),
    ("-Infinity", "Input should be a finite number"),
    ("NaN", "Input should be a finite number"),
    ("1e308", "Input should be less than or equal to 86400"),
])
def test_a_case_duration_is_a_finite_number_of_a_day_at_most(client: TestClient, raw: str,
                                                              says: str) -> None:
    agent, job_id, lease = running_job(client)
    body = (f'{{"lease_id": "{lease}", "attempt": 1, "outcome": "passed", "tests": '
            f'[{{"title": "a", "status": "passed", "duration_seconds": {raw}}}]}}')
    answer = client.post(f"/agents/{agent}/jobs/{job_id}/report", content=body, headers=JSON)
    _is_invalid_input(answer, "tests.0.duration_seconds", says)
    job = client.get(f"/jobs/{job_id}").json()
    assert job["status"] == "running" and job["tests"] == []  # nothing stored
    assert client.get("/tests", params={"cases": "true"}).json()["tests"] == []


def test_a_day_long_case_is_still_taken(client: TestClient) -> None:
    agent, job_id, lease = running_job(client)
    report = {"lease_id": lease, "attempt": 1, "outcome": "passed",
              "tests": [{"title": "a", "status": "passed", "duration_seconds": 86400.0}]}
    assert client.post(f"/agents/{agent}/jobs/{job_id}/report", json=report).status_code == 200
    assert client.get(f"/jobs/{job_id}").json()["tests"][0]["duration_seconds"] == 86400.0


def test_cases_stored_before_the_limit_still_show(client: TestClient) -> None:
    """Cases an older server stored with durations it now refuses read within the limit."""
    agent, job_id, lease = running_job(client)
    report = {"lease_id": lease, "attempt": 1, "outcome": "passed",
              "tests": [{"title": "a", "status": "passed", "duration_seconds": 1.0}]}
    assert client.post(f"/agents/{agent}/jobs/{job_id}/report", json=report).status_code == 200
    store = client.app.state.service.store  # type: ignore[attr-defined]
    with store._db.write() as conn:  # as the older server wrote them
        save_cases(conn, job_id, 1, [CaseResult("a", "passed", math.inf),
                                     CaseResult("b", "passed", 1e308),
                                     CaseResult("c", "passed", math.nan)])
    answer = client.get(f"/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    assert [c["duration_seconds"] for c in answer.json()["tests"]] == [86400.0, 86400.0, 0.0]


def test_the_agent_keeps_its_runners_times_within_the_limit() -> None:
    times = [math.inf, -math.inf, math.nan, 1e308, -1.0, 2.5]
    sent = [_case(CaseResult("a", "passed", t)).duration_seconds for t in times]
    assert sent == [limits.SECONDS_MAX, 0.0, 0.0, limits.SECONDS_MAX, 0.0, 2.5]


@pytest.mark.parametrize("raw", ["NaN", "Infinity"])
def test_install_and_claim_seconds_are_finite(client: TestClient, raw: str) -> None:
    agent = register(client)
    install = (f'{{"device": "emulator-1", "app_version_id": "xyz123", '
               f'"target": "emulator", "seconds": {raw}}}')
    answer = client.post(f"/agents/{agent}/installs", content=install, headers=JSON)
    _is_invalid_input(answer, "seconds", "Input should be a finite number")
    wait = f'{{"device": "emulator-1", "target": "emulator", "wait_seconds": {raw}}}'
    answer = client.post(f"/agents/{agent}/claim", content=wait, headers=JSON)
    _is_invalid_input(answer, "wait_seconds", "Input should be a finite number")


@pytest.mark.parametrize(("path", "field"), [
    ("/timeline", "since"), ("/stats", "days"), ("/trace", "since_seconds")])
@pytest.mark.parametrize("raw", ["nan", "inf", "-inf"])
def test_query_windows_are_finite(client: TestClient, path: str, field: str,
                                  raw: str) -> None:
    answer = client.get(path, params={field: raw})
    _is_invalid_input(answer, field, "Input should be a finite number")



# 3. An install report for a target the device is not registered for is refused as a claim is.

def test_an_install_for_the_wrong_target_is_409_as_a_claim_is(client: TestClient) -> None:
    agent = register(client)
    wrong = {"device": "emulator-1", "app_version_id": "xyz123", "seconds": 3.0}
    answer = client.post(f"/agents/{agent}/installs", json={**wrong, "target": "device"})
    assert answer.status_code == 409
    assert answer.json()["detail"] == ("device 'emulator-1' is registered for target "
                                       "'emulator', not 'device'")
    assert client.get("/timeline").json()["devices"] == []  # nothing kept
    right = client.post(f"/agents/{agent}/installs", json={**wrong, "target": "emulator"})
    assert right.status_code == 204


# 4. Releasing a lease that is not held answers as another agent's lease does.

def test_releasing_an_unknown_or_ended_lease_is_409_lease_lost(client: TestClient) -> None:
    agent = register(client)
    unknown = client.post(f"/agents/{agent}/leases/no-such-lease/release",
                          json={"job_ids": ["x"]})
    assert unknown.status_code == 409 and unknown.json() == {
        "detail": "lease no-such-lease is not held: it ended or never existed",
        "code": "lease_lost"}
    client.post("/jobs", json=JOB)
    batch = claim(client, agent).json()
    ids = [job["job_id"] for job in batch["jobs"]]
    path = f"/agents/{agent}/leases/{batch['lease_id']}/release"
    assert client.post(path, json={"job_ids": ids}).json()["count"] == 1
    ended = client.post(path, json={"job_ids": ids})  # its only job went back: it ended
    assert ended.status_code == 409 and ended.json()["code"] == "lease_lost"


# 5. Every 422 in one shape; messages that say what is wrong; the codes the README promises.

def test_invalid_base64_is_a_422_of_the_usual_shape(client: TestClient) -> None:
    agent, job_id, lease = running_job(client)
    answer = client.post(f"/agents/{agent}/jobs/{job_id}/files", json={
        "lease_id": lease, "attempt": 1, "name": "r.json", "content_base64": "AAA"})  # no padding
    _is_invalid_input(answer, "content_base64", "is not valid base64")


@pytest.mark.parametrize("path", ["/jobs", "/runs"])
def test_disagreeing_idempotency_keys_are_a_422_of_the_usual_shape(client: TestClient,
                                                                   path: str) -> None:
    body = {**JOB, "idempotency_key": "a"} if path == "/jobs" else {
        "org_id": "qualgent", "app_version_id": "xyz123", "idempotency_key": "a"}
    answer = client.post(path, json=body, headers={"Idempotency-Key": "b"})
    _is_invalid_input(answer, "idempotency_key", "the header and the body disagree")


@pytest.mark.parametrize("path", ["report", "output", "files"])
def test_a_wrong_attempt_under_the_current_lease_says_so(client: TestClient,
                                                         path: str) -> None:
    agent, job_id, lease = running_job(client)
    body = {"report": {"outcome": "passed"}, "output": {"text": "x"},
            "files": {"name": "r.json", "content_base64": "e30="}}[path]
    answer = client.post(f"/agents/{agent}/jobs/{job_id}/{path}",
                         json={"lease_id": lease, "attempt": 2, **body})
    assert answer.status_code == 409
    assert answer.json() == {"detail": f"job {job_id} is running attempt 1 under this "
                                       "lease, not attempt 2", "code": "lease_lost"}


def test_a_name_held_by_another_tokens_session_is_agent_name_in_use(tmp_path: Path) -> None:
    with app_with(tmp_path) as (client, store):
        _, mine = issue(store, Role.AGENT)
        _, other = issue(store, Role.AGENT)
        body = {"name": "lab", "devices": [{"name": "e1", "target": "emulator"}]}
        assert client.post("/agents", headers=bearer(mine), json=body).status_code == 201
        refused = client.post("/agents", headers=bearer(other), json=body)
        assert refused.status_code == 409
        assert refused.json() == {"detail": "agent name 'lab' is in use by an online session "
                                            "of another token", "code": "agent_name_in_use"}


def test_a_refused_role_is_named_with_its_article(tmp_path: Path) -> None:
    with app_with(tmp_path) as (client, store):
        _, agent = issue(store, Role.AGENT)
        _, submitter = issue(store, Role.SUBMITTER, "acme")
        assert client.get("/timeline", headers=bearer(agent)).json()["detail"] == (
            "an agent token may not use GET /timeline")
        assert client.get("/timeline", headers=bearer(submitter)).json()["detail"] == (
            "a submitter token may not use GET /timeline")


def test_registrations_under_one_name_at_once_take_it_once(live_server: LiveServer) -> None:
    """Before, each registration checked the name before its transaction, so of 16 sent
    at once several found it free and took it over in turn (all 201)."""
    body = {"name": "twin", "devices": [{"name": "e1", "target": "emulator"}]}
    start = threading.Barrier(16)

    def register_once(_: int) -> int:
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            start.wait()
            return client.post("/agents", json=body).status_code

    with ThreadPoolExecutor(16) as pool:
        statuses = Counter(pool.map(register_once, range(16)))
    assert statuses == {201: 1, 409: 15}


def test_a_heartbeat_that_reports_a_device_twice_is_refused(client: TestClient) -> None:
    """Idle and running at once: which the lease and the dashboard should believe would be a
    guess (registration refuses a device named twice likewise)."""
    agent = register(client)
    answer = client.post(f"/agents/{agent}/heartbeat", json={"devices": [
        {"name": "emulator-1", "state": "idle"}, {"name": "emulator-1", "state": "running"}]})
    _is_invalid_input(answer, "devices", "each device is reported once a heartbeat")
