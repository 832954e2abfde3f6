"""`GET /jobs/{id}/attempts` and `GET /timeline`, through the app factory."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_agent_protocol import JOB, claim, register


def run_batch(client: TestClient, agent: str, *outcomes: tuple[str, str | None]
              ) -> list[dict[str, Any]]:
    """Claim batches until one job per outcome has run, reporting the given (outcome,
    error) for each in order; the first batch's build is installed once."""
    reported: list[dict[str, Any]] = []
    pending = list(outcomes)
    while pending:
        batch = claim(client, agent).json()
        if not reported:
            client.post(f"/agents/{agent}/installs", json={
                "device": "emulator-1", "app_version_id": batch["app_version_id"],
                "target": "emulator", "seconds": 2.5, "ok": True})
        for job in batch["jobs"]:
            outcome, error = pending.pop(0)
            started = client.post(f"/agents/{agent}/jobs/{job['job_id']}/start",
                                  json={"lease_id": batch["lease_id"]}).json()
            report = {"lease_id": batch["lease_id"], "attempt": started["attempts"],
                      "outcome": outcome, "error": error}
            done = client.post(f"/agents/{agent}/jobs/{job['job_id']}/report", json=report)
            assert done.status_code == 200, done.text
            reported.append(done.json())
    return reported


def test_attempts_of_a_job(client: TestClient) -> None:
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    assert client.get(f"/jobs/{job_id}/attempts").json() == {"job_id": job_id, "attempts": []}
    agent = register(client)
    run_batch(client, agent, ("failed", "expected 'Welcome' on screen"))
    body = client.get(f"/jobs/{job_id}/attempts").json()
    [attempt] = body["attempts"]
    assert (attempt["attempt"], attempt["outcome"], attempt["error"]) == (
        1, "failed", "expected 'Welcome' on screen")
    assert (attempt["device"], attempt["agent"]) == ("lab/emulator-1", "lab")
    assert attempt["started_at"].endswith("Z") and attempt["seconds"] >= 0


def test_attempts_of_an_unknown_job_is_404(client: TestClient) -> None:
    response = client.get("/jobs/nope/attempts")
    assert response.status_code == 404
    assert response.json()["detail"] == "no job with id 'nope'"


def test_the_timeline_shows_installs_and_tests_per_device(client: TestClient) -> None:
    client.post("/jobs", json=JOB)
    client.post("/jobs", json={**JOB, "test_path": "tests/login.spec.js"})
    agent = register(client)
    run_batch(client, agent, ("passed", None), ("failed", "boom"))
    body = client.get("/timeline").json()
    assert body["truncated"] is False and body["since"] < body["until"]
    [device] = body["devices"]
    assert device["device_id"] == "lab/emulator-1"
    bars = [(b["kind"], b["ok"], b["outcome"]) for b in device["bars"]]
    assert bars == [("install", True, None), ("test", True, "passed"),
                    ("test", False, "failed")]
    test_bar = device["bars"][1]
    assert (test_bar["app_version_id"], test_bar["org_id"], test_bar["attempt"]) == (
        "xyz123", "qualgent", 1)


def test_the_timeline_of_a_quiet_system_is_empty(client: TestClient) -> None:
    body = client.get("/timeline", params={"since": 60, "limit": 10}).json()
    assert body["devices"] == [] and body["truncated"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": 0}, "since"),
        ({"since": -5}, "since"),
        ({"since": 86401}, "since"),
        ({"since": "an hour"}, "since"),
        ({"since": "nan"}, "since"),
        ({"since": "inf"}, "since"),
        ({"limit": 0}, "limit"),
        ({"limit": 10001}, "limit"),
    ],
)
def test_bad_timeline_windows_are_422(client: TestClient, params: dict[str, Any],
                                      field: str) -> None:
    response = client.get("/timeline", params=params)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
