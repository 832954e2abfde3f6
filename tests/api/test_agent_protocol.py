import json
import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qgjob.api.app import create_app
from qgjob.settings import ServerSettings

JOB = {"org_id": "qualgent", "app_version_id": "xyz123", "test_path": "tests/onboarding.spec.js"}


def register(client: TestClient, devices: list[dict[str, Any]] | None = None,
             name: str = "lab") -> str:
    devices = devices or [{"name": "emulator-1", "target": "emulator"}]
    response = client.post("/agents", json={"name": name, "executor": "simulate",
                                            "devices": devices})
    assert response.status_code == 201, response.text
    return response.json()["agent"]["agent_id"]  # type: ignore[no-any-return]


def claim(client: TestClient, agent: str, wait: float = 0, device: str = "emulator-1",
          holds: str | None = None) -> Any:
    return client.post(f"/agents/{agent}/claim", json={
        "device": device, "target": "emulator", "holds_app_version_id": holds,
        "wait_seconds": wait})


def test_a_job_goes_queued_running_completed(client: TestClient) -> None:
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    agent = register(client)
    batch = claim(client, agent).json()
    assert [j["job_id"] for j in batch["jobs"]] == [job_id]
    assert client.get(f"/jobs/{job_id}").json()["status"] == "queued"  # in a batch, not started
    started = client.post(f"/agents/{agent}/jobs/{job_id}/start",
                          json={"lease_id": batch["lease_id"]}).json()
    assert (started["status"], started["attempts"], started["device"]) == ("running", 1,
                                                                           "lab/emulator-1")
    report = {"lease_id": batch["lease_id"], "attempt": 1, "outcome": "passed"}
    done = client.post(f"/agents/{agent}/jobs/{job_id}/report", json=report).json()
    assert done["status"] == "completed" and done["finished_at"] is not None


def test_claim_without_work_answers_204(client: TestClient) -> None:
    agent = register(client)
    assert claim(client, agent, wait=0.3).status_code == 204


def test_a_waiting_claim_is_answered_when_work_arrives(settings: ServerSettings) -> None:
    # The safety-net poll is longer than the claim's wait: only a wake-up can hand it work.
    slow_poll = replace(settings, claim_poll_seconds=60.0)
    with TestClient(create_app(slow_poll, maintenance=False)) as client:
        agent = register(client)
        answers: list[Any] = []
        waiting = threading.Thread(target=lambda: answers.append(claim(client, agent, wait=20)))
        waiting.start()
        service = client.app.state.service  # type: ignore[attr-defined]
        while service.waiters.waiting_count("emulator") == 0:
            threading.Event().wait(0.01)
        job_id = client.post("/jobs", json=JOB).json()["job_id"]
        waiting.join()
    assert answers[0].status_code == 200
    assert [j["job_id"] for j in answers[0].json()["jobs"]] == [job_id]


def test_a_device_left_idle_while_a_build_arrives_is_answered_when_its_submits_stop(
        settings: ServerSettings) -> None:
    """A build's second job and another target's build come together after its first, which
    one emulator runs: a second emulator does not join while the build arrives, and its
    waiting claim is answered when the build's submits have stopped for the window (a quarter
    of the 2 s install assumed: 0.5 s), not at the next poll (a minute here)."""
    slow_poll = replace(settings, claim_poll_seconds=60.0,
                        install_seconds={"emulator": 2.0, "device": 2.0})
    devices = [{"name": "emulator-1", "target": "emulator"},
               {"name": "emulator-2", "target": "emulator"},
               {"name": "device-1", "target": "device"}]
    with TestClient(create_app(slow_poll, maintenance=False)) as client:
        agent = register(client, devices)
        client.post("/jobs", json=JOB)
        assert claim(client, agent).status_code == 200  # emulator-1 takes the first job
        second = client.post("/jobs/batch", json={"jobs": [
            {**JOB, "test_path": "tests/login.spec.js"}, {**JOB, "target": "device"}]})
        submitted = time.monotonic()
        answer = claim(client, agent, wait=20, device="emulator-2")
        waited = time.monotonic() - submitted
    assert answer.status_code == 200
    assert [j["job_id"] for j in answer.json()["jobs"]] == [second.json()["jobs"][0]["job_id"]]
    assert waited < 10  # the window, not the 60 s poll (no timing asserted beyond that)


def test_cancel_of_a_running_job_travels_by_heartbeat(client: TestClient) -> None:
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    agent = register(client)
    lease = claim(client, agent).json()["lease_id"]
    client.post(f"/agents/{agent}/jobs/{job_id}/start", json={"lease_id": lease})
    requested = client.post(f"/jobs/{job_id}/cancel").json()
    assert requested["status"] == "running" and requested["cancel_requested"]
    beat = client.post(f"/agents/{agent}/heartbeat", json={"devices": [
        {"name": "emulator-1", "state": "running", "holds_app_version_id": "xyz123",
         "current_job_id": job_id, "lease_id": lease}]}).json()
    assert beat["known"] and beat["cancel_job_ids"] == [job_id]
    report = {"lease_id": lease, "attempt": 1, "outcome": "cancelled"}
    done = client.post(f"/agents/{agent}/jobs/{job_id}/report", json=report).json()
    assert done["status"] == "cancelled"


def test_stale_report_is_409_lease_lost(client: TestClient) -> None:
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    agent = register(client)
    lease = claim(client, agent).json()["lease_id"]
    client.post(f"/jobs/{job_id}/cancel")
    refused = client.post(f"/agents/{agent}/jobs/{job_id}/start", json={"lease_id": lease})
    assert refused.status_code == 409 and refused.json()["code"] == "lease_lost"


def test_unknown_agent_must_register_again(client: TestClient) -> None:
    assert claim(client, "ghost").status_code == 404
    beat = client.post("/agents/ghost/heartbeat", json={"devices": []}).json()
    assert beat["known"] is False


def test_agents_list_shows_devices_and_what_they_hold(client: TestClient) -> None:
    client.post("/jobs", json=JOB)
    agent = register(client, [{"name": "emulator-1", "target": "emulator"},
                              {"name": "pixel-7", "target": "device",
                               "holds_app_version_id": "xyz123"}])
    claim(client, agent, holds="xyz123")
    [listed] = client.get("/agents").json()["agents"]
    devices = {d["name"]: d for d in listed["devices"]}
    assert devices["emulator-1"]["holds_app_version_id"] == "xyz123"
    assert devices["pixel-7"]["target"] == "device"
    assert listed["state"] == "online" and listed["executor"] == "simulate"


def test_hand_back_requeues(client: TestClient) -> None:
    ids = [client.post("/jobs", json={**JOB, "test_path": f"t{i}.spec.js"}).json()["job_id"]
           for i in range(2)]
    agent = register(client)
    batch = claim(client, agent).json()
    held = [job["job_id"] for job in batch["jobs"]]
    back = client.post(f"/agents/{agent}/leases/{batch['lease_id']}/release",
                       json={"job_ids": ids}).json()
    assert back["count"] == len(held) >= 1  # ids outside the lease are ignored
    assert all(j["status"] == "queued" and j["device"] is None for j in back["jobs"])


def test_queue_summary(client: TestClient) -> None:
    client.post("/jobs", json={**JOB, "priority": 5})
    client.post("/jobs", json={**JOB, "org_id": "acme", "target": "device"})
    summary = client.get("/queue").json()
    assert summary["queued"] == 2 and summary["running"] == 0
    assert summary["by_priority"] == {"5": 1, "3": 1}
    assert summary["by_target"] == {"emulator": 1, "device": 1}
    assert summary["by_org"] == {"qualgent": 1, "acme": 1}
    lanes = {lane["target"]: lane for lane in summary["lanes"]}
    assert lanes["emulator"]["position"] == 1 and lanes["emulator"]["top_priority"] == 5
    assert lanes["device"]["reason"].startswith("no device takes work on target device:")


def test_bad_agent_requests(client: TestClient) -> None:
    no_devices = client.post("/agents", json={"name": "lab", "devices": []})
    assert no_devices.status_code == 422
    twins = client.post("/agents", json={"name": "lab", "devices": [
        {"name": "e1", "target": "emulator"}, {"name": "e1", "target": "emulator"}]})
    assert "unique" in twins.json()["detail"]
    agent = register(client)
    too_long = claim(client, agent, wait=3600)
    assert too_long.status_code == 422
    bad_outcome = client.post(f"/agents/{agent}/jobs/x/report",
                              json={"lease_id": "l", "attempt": 1, "outcome": "maybe"})
    assert bad_outcome.status_code == 422


def test_a_lease_answers_only_to_its_agent(client: TestClient) -> None:
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    owner = register(client)
    other = register(client, [{"name": "emulator-9", "target": "emulator"}], name="lab-2")
    lease = claim(client, owner).json()["lease_id"]
    stolen = client.post(f"/agents/{other}/jobs/{job_id}/start", json={"lease_id": lease})
    assert stolen.status_code == 409 and stolen.json()["code"] == "lease_lost"
    assert client.post(f"/agents/{owner}/jobs/{job_id}/start",
                       json={"lease_id": lease}).status_code == 200
    report = {"lease_id": lease, "attempt": 1, "outcome": "passed"}
    for _ in range(2):  # the lease's agent is remembered once known: still not the other's
        stolen = client.post(f"/agents/{other}/jobs/{job_id}/report", json=report)
        assert stolen.status_code == 409 and stolen.json()["code"] == "lease_lost"
    done = client.post(f"/agents/{owner}/jobs/{job_id}/report", json=report)
    assert done.status_code == 200 and done.json()["status"] == "completed"


def test_a_claim_for_the_wrong_target_is_refused(client: TestClient) -> None:
    client.post("/jobs", json=JOB)
    agent = register(client)
    wrong = client.post(f"/agents/{agent}/claim", json={
        "device": "emulator-1", "target": "device", "wait_seconds": 0})
    assert wrong.status_code == 409 and "registered for target 'emulator'" in wrong.json()["detail"]
    assert client.get("/jobs").json()["jobs"][0]["device"] is None  # nothing kept


def test_absurd_attempt_numbers_are_refused(client: TestClient) -> None:
    agent = register(client)
    response = client.post(f"/agents/{agent}/jobs/x/report",
                           json={"lease_id": "l", "attempt": 10**20, "outcome": "passed"})
    assert response.status_code == 422


def running_job(client: TestClient) -> tuple[str, str, str]:
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    agent = register(client)
    lease = claim(client, agent).json()["lease_id"]
    client.post(f"/agents/{agent}/jobs/{job_id}/start", json={"lease_id": lease})
    return agent, job_id, lease


def test_output_past_the_servers_end_is_refused_with_where_it_ends(
        client: TestClient) -> None:
    agent, job_id, lease = running_job(client)
    url = f"/agents/{agent}/jobs/{job_id}/output"

    def send(text: str, offset: int) -> Any:
        return client.post(url, json={"lease_id": lease, "attempt": 1, "text": text,
                                      "offset": offset})

    gap = send("gap", 5)
    assert (gap.status_code, gap.json()["code"], gap.json()["next_offset"]) == (
        409, "output_gap", 0)
    assert send("hello", 0).status_code == 204
    assert send("lo world", 3).status_code == 204  # overlapping: only the new part is kept
    assert send("!", 12).json()["next_offset"] == 11
    assert client.get(f"/jobs/{job_id}/logs").text == "hello world"


def test_output_files_and_per_test_results(client: TestClient) -> None:
    import base64

    agent, job_id, lease = running_job(client)
    out = client.post(f"/agents/{agent}/jobs/{job_id}/output",
                      json={"lease_id": lease, "attempt": 1, "text": "Running 2 tests\n"})
    assert out.status_code == 204
    report_json = b'{"suites": []}' * 10_000  # well over the 64 KiB cap of other requests
    upload = client.post(f"/agents/{agent}/jobs/{job_id}/files", json={
        "lease_id": lease, "attempt": 1, "name": "report.json",
        "media_type": "application/json",
        "content_base64": base64.b64encode(report_json).decode()})
    assert upload.status_code == 204, upload.text
    report = {"lease_id": lease, "attempt": 1, "outcome": "failed", "error": "1 failed",
              "tests": [{"title": "logs in", "status": "passed", "duration_seconds": 1.2},
                        {"title": "bad password", "status": "failed",
                         "duration_seconds": 0.8, "error": "expected 401"}]}
    assert client.post(f"/agents/{agent}/jobs/{job_id}/report", json=report).status_code == 200
    logs = client.get(f"/jobs/{job_id}/logs")
    assert logs.text == "Running 2 tests\n" and logs.headers["X-Qgjob-Finished"] == "true"
    assert logs.headers["content-type"].startswith("text/plain")
    job = client.get(f"/jobs/{job_id}").json()
    assert [t["status"] for t in job["tests"]] == ["passed", "failed"]
    files = client.get(f"/jobs/{job_id}/files").json()["files"]
    assert files == [{"attempt": 1, "name": "report.json", "media_type": "application/json",
                      "size": len(report_json)}]
    assert client.get(f"/jobs/{job_id}/files/1/report.json").content == report_json


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("output", {"attempt": 1, "text": "x" * 60_000}, 422),
        ("output", {"attempt": 2, "text": "wrong attempt"}, 409),
        ("files", {"attempt": 1, "name": "../etc/passwd", "content_base64": "eA=="}, 422),
        ("files", {"attempt": 1, "name": "r.json", "content_base64": "not base64!"}, 422),
    ],
)
def test_bad_output_and_uploads(client: TestClient, path: str, body: dict,
                                status: int) -> None:
    agent, job_id, lease = running_job(client)
    response = client.post(f"/agents/{agent}/jobs/{job_id}/{path}",
                           json={"lease_id": lease, **body})
    assert response.status_code == status, response.text


def test_logs_of_unknown_jobs_and_attempts(client: TestClient) -> None:
    assert client.get("/jobs/nope/logs").status_code == 404
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    empty = client.get(f"/jobs/{job_id}/logs")
    assert empty.status_code == 200 and empty.text == ""
    assert empty.headers["X-Qgjob-Attempt"] == "0"
    assert client.get(f"/jobs/{job_id}/logs", params={"attempt": 3}).status_code == 404
    assert client.get(f"/jobs/{job_id}/files/1/x.json").status_code == 404


def test_a_report_carries_the_end_of_the_output_once(client: TestClient) -> None:
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    registered = client.post("/agents", json={"name": "lab", "devices": [
        {"name": "emulator-1", "target": "emulator"}]}).json()
    assert registered["report_takes_output"] is True
    agent = registered["agent"]["agent_id"]
    lease = claim(client, agent).json()["lease_id"]
    client.post(f"/agents/{agent}/jobs/{job_id}/start", json={"lease_id": lease})
    client.post(f"/agents/{agent}/jobs/{job_id}/output",
                json={"lease_id": lease, "attempt": 1, "text": "streamed\n"})
    report = {"lease_id": lease, "attempt": 1, "outcome": "passed", "output": "last line\n"}
    for _ in range(2):  # delivered twice: the second changes nothing
        answer = client.post(f"/agents/{agent}/jobs/{job_id}/report", json=report)
        assert answer.status_code == 200 and answer.json()["status"] == "completed"
    logs = client.get(f"/jobs/{job_id}/logs")
    assert logs.text == "streamed\nlast line\n" and logs.headers["X-Qgjob-Finished"] == "true"
    too_long = {**report, "output": "x" * 8193}
    assert client.post(f"/agents/{agent}/jobs/{job_id}/report", json=too_long).status_code == 422


def test_a_big_suites_report_is_taken_up_to_the_cap_the_registration_names(
        client: TestClient) -> None:
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    registered = client.post("/agents", json={"name": "lab", "devices": [
        {"name": "emulator-1", "target": "emulator"}]}).json()
    cap = registered["report_max_bytes"]
    agent = registered["agent"]["agent_id"]
    lease = claim(client, agent).json()["lease_id"]
    client.post(f"/agents/{agent}/jobs/{job_id}/start", json={"lease_id": lease})
    cases = [{"title": f"case {n}", "status": "failed", "duration_seconds": 1.0,
              "error": "Error: " + "x" * 1000} for n in range(400)]
    report = {"lease_id": lease, "attempt": 1, "outcome": "failed", "tests": cases}
    assert 64 * 1024 < len(json.dumps(report)) < cap
    assert client.post(f"/agents/{agent}/jobs/{job_id}/report", json=report).status_code == 200
    huge = {**report, "tests": [{**case, "error": "z" * 19_000} for case in cases]}
    assert len(json.dumps(huge)) > cap
    assert client.post(f"/agents/{agent}/jobs/{job_id}/report", json=huge).status_code == 413


@pytest.mark.parametrize(("name", "media_type", "inline"), [
    ("page.html", "text/html", False),
    ("page.htm", "text/HTML", False),
    ("drawing.svg", "image/svg+xml", False),
    ("junit.xml", "application/xml", False),
    ("trace.zip", "application/octet-stream", False),
    ("report.json", "application/json", True),
    ("shot.png", "image/png", True),
    ("shot.jpg", "image/jpeg", True),
    ("notes.txt", "text/plain", True),
    ("run.webm", "video/webm", True),
])
def test_report_files_never_run_as_pages_of_the_api(client: TestClient, name: str,
                                                    media_type: str, inline: bool) -> None:
    """An agent's file is untrusted: opened from the API's origin, an HTML or SVG file
    would run its script there. Only types a browser shows without running anything are
    inline; every file is sandboxed and never sniffed."""
    import base64

    agent, job_id, lease = running_job(client)
    content = b"<html><script>alert(document.domain)</script></html>"
    assert client.post(f"/agents/{agent}/jobs/{job_id}/files", json={
        "lease_id": lease, "attempt": 1, "name": name, "media_type": media_type,
        "content_base64": base64.b64encode(content).decode()}).status_code == 204
    served = client.get(f"/jobs/{job_id}/files/1/{name}")
    assert served.status_code == 200 and served.content == content
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "sandbox; default-src 'none'"
    disposition = served.headers["content-disposition"]
    assert disposition == (f'inline; filename="{name}"' if inline
                           else f'attachment; filename="{name}"')
    if not inline:
        assert served.headers["content-type"] == "application/octet-stream"


def test_logs_are_never_sniffed_as_a_page(client: TestClient) -> None:
    agent, job_id, lease = running_job(client)
    client.post(f"/agents/{agent}/jobs/{job_id}/output",
                json={"lease_id": lease, "attempt": 1, "text": "<script>alert(1)</script>"})
    logs = client.get(f"/jobs/{job_id}/logs")
    assert logs.headers["content-type"].startswith("text/plain")
    assert logs.headers["x-content-type-options"] == "nosniff"
    assert logs.headers["content-security-policy"] == "sandbox; default-src 'none'"
