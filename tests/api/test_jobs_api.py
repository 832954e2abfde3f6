from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_agent_protocol import claim, register
from tests.factories import BRIEF_EXAMPLE

JOB = {"org_id": "qualgent", "app_version_id": "xyz123", "test_path": "tests/onboarding.spec.js"}


def submit(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = client.post("/jobs", json={**JOB, **changes})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def stored_jobs(client: TestClient) -> list[dict[str, Any]]:
    return client.get("/jobs", params={"limit": 1000}).json()["jobs"]  # type: ignore[no-any-return]


def test_submit_returns_the_queued_job(client: TestClient) -> None:
    job = submit(client, priority="high", target="device")
    assert job["status"] == "queued"
    assert (job["priority"], job["target"], job["attempts"], job["max_attempts"]) == (4, "device",
                                                                                      0, 3)
    assert job["created_at"].endswith("Z") and job["started_at"] is None
    assert client.get(f"/jobs/{job['job_id']}").json() == job


def test_defaults_are_emulator_and_normal_priority(client: TestClient) -> None:
    job = submit(client)
    assert (job["target"], job["priority"]) == ("emulator", 3)


def test_unknown_job_is_404(client: TestClient) -> None:
    response = client.get("/jobs/nope")
    assert response.status_code == 404
    assert response.json()["detail"] == "no job with id 'nope'"
    assert client.post("/jobs/nope/cancel").status_code == 404


def test_the_brief_example_groups(client: TestClient) -> None:
    ids = [submit(client, org_id=o, app_version_id=a, test_path=t, target=g)["job_id"]
           for o, a, t, g in BRIEF_EXAMPLE]
    groups = client.get("/groups").json()["groups"]
    by_key = {(g["app_version_id"], g["target"]): g["job_ids"] for g in groups}
    assert by_key == {("xyz123", "emulator"): [ids[0], ids[1], ids[4]],
                      ("xyz123", "device"): [ids[2]],
                      ("xyz999", "emulator"): [ids[3]]}
    assert client.get("/debug/groups").json()["groups"] == groups
    assert all(g["counts"]["queued"] == len(g["job_ids"]) for g in groups)


def test_list_filters_and_newest_first(client: TestClient) -> None:
    first = submit(client)["job_id"]
    second = submit(client, org_id="acme")["job_id"]
    assert [j["job_id"] for j in stored_jobs(client)] == [second, first]
    acme = client.get("/jobs", params={"org_id": "acme"}).json()
    assert [j["job_id"] for j in acme["jobs"]] == [second] and acme["count"] == 1
    queued = client.get("/jobs", params={"status": "queued"}).json()["jobs"]
    assert len(queued) == 2
    assert client.get("/jobs", params={"status": "completed"}).json()["jobs"] == []
    picked = client.get("/jobs", params={"job_id": [first]}).json()["jobs"]
    assert [j["job_id"] for j in picked] == [first]


def test_the_build_filter_matches_part_of_a_build(client: TestClient) -> None:
    wanted = submit(client, app_version_id="release-2.4.1")["job_id"]
    submit(client, app_version_id="release-2.5.0")
    found = client.get("/jobs", params={"app_version_id_contains": "2.4"}).json()["jobs"]
    assert [j["job_id"] for j in found] == [wanted]
    exact = client.get("/jobs", params={"app_version_id": "2.4"}).json()["jobs"]
    assert exact == []  # `app_version_id` stays an exact match


def test_cancel(client: TestClient) -> None:
    job = submit(client)
    cancelled = client.post(f"/jobs/{job['job_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.post(f"/jobs/{job['job_id']}/cancel")
    assert again.status_code == 409
    assert again.json() == {"detail": f"job {job['job_id']} is already cancelled",
                            "code": "job_finished"}


def test_cancelling_a_completed_job_is_a_409_with_a_code(client: TestClient) -> None:
    """It was a 409 without a `code`, unlike the runs' `run_finished`."""
    job = submit(client)
    agent = register(client)
    batch = claim(client, agent).json()
    base = f"/agents/{agent}/jobs/{job['job_id']}"
    client.post(f"{base}/start", json={"lease_id": batch["lease_id"]})
    report = {"lease_id": batch["lease_id"], "attempt": 1, "outcome": "passed"}
    assert client.post(f"{base}/report", json=report).status_code == 200
    answer = client.post(f"/jobs/{job['job_id']}/cancel")
    assert answer.status_code == 409
    assert answer.json() == {"detail": f"job {job['job_id']} is already completed",
                             "code": "job_finished"}


def test_batch_submit_is_all_or_nothing(client: TestClient) -> None:
    good = {**JOB}
    bad = {**JOB, "test_path": "../escape.js"}
    refused = client.post("/jobs/batch", json={"jobs": [good, bad]})
    assert refused.status_code == 422
    assert "jobs.1.test_path" in refused.json()["detail"]
    assert stored_jobs(client) == []
    accepted = client.post("/jobs/batch", json={"jobs": [good, {**JOB, "test_path": "b.spec.js"}]})
    assert accepted.status_code == 201 and accepted.json()["count"] == 2
    assert len(stored_jobs(client)) == 2


def test_a_batch_answers_with_each_job_as_get_shows_it(client: TestClient) -> None:
    paths = [f"tests/flow-{n}.spec.js" for n in range(5)]
    answer = client.post("/jobs/batch", json={"jobs": [{**JOB, "test_path": p, "priority": 5}
                                                       for p in paths]})
    assert answer.status_code == 201
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["count"] == 5 and [j["test_path"] for j in body["jobs"]] == paths
    for job in body["jobs"]:
        assert job == client.get(f"/jobs/{job['job_id']}").json()
        assert job["status"] == "queued" and job["priority"] == 5 and job["tests"] == []


@pytest.mark.parametrize("prefer", ["return=minimal", "respond-async, Return = minimal"])
def test_a_batch_asked_for_minimal_answers_with_ids(client: TestClient, prefer: str) -> None:
    paths = [f"tests/flow-{n}.spec.js" for n in range(3)]
    answer = client.post("/jobs/batch", json={"jobs": [{**JOB, "test_path": p} for p in paths]},
                         headers={"Prefer": prefer})
    assert answer.status_code == 201
    assert answer.headers["preference-applied"] == "return=minimal"
    body = answer.json()
    assert body == {"job_ids": body["job_ids"], "count": 3, "replayed": 0}
    assert [client.get(f"/jobs/{i}").json()["test_path"] for i in body["job_ids"]] == paths
    keyed = [{**JOB, "test_path": p, "idempotency_key": f"k-{p}"} for p in paths]
    client.post("/jobs/batch", json={"jobs": keyed[:2]}, headers={"Prefer": prefer})
    again = client.post("/jobs/batch", json={"jobs": keyed}, headers={"Prefer": prefer}).json()
    assert (again["count"], again["replayed"]) == (3, 2)  # found by their keys, not queued
    full = client.post("/jobs/batch", json={"jobs": [JOB]}, headers={"Prefer": "wait=5"})
    assert "jobs" in full.json() and "preference-applied" not in full.headers


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({**JOB, "target": "tv"}, 422, "target"),
        ({**JOB, "priority": 7}, 422, "priority 7 is out of range"),
        ({**JOB, "priority": "asap"}, 422, "priority"),
        ({**JOB, "priority": None}, 422, "priority"),
        ({k: v for k, v in JOB.items() if k != "org_id"}, 422, "org_id: is required"),
        ({**JOB, "org_id": ""}, 422, "org_id must not be empty"),
        ({**JOB, "app_version_id": "x" * 5000}, 422, "app_version_id"),
        ({**JOB, "test_path": "/abs/path.spec.js"}, 422, "relative"),
        ({**JOB, "test_path": "tests/../../etc/passwd"}, 422, "'..'"),
        ({**JOB, "test_path": "a.js; rm -rf /"}, 422, "test_path"),
        ({**JOB, "test_path": "a\u0000.js"}, 422, "test_path"),
        ({**JOB, "test": "tests/x.spec.js"}, 422, "test: is not a known field"),
        ({**JOB, "max_attempts": 0}, 422, "max_attempts"),
        ([JOB], 422, "body"),
        ("just a string", 422, "body"),
    ],
)
def test_bad_submissions_are_refused_and_store_nothing(
    client: TestClient, body: Any, status: int, says: str
) -> None:
    response = client.post("/jobs", json=body)
    assert response.status_code == status
    assert says in response.json()["detail"]
    assert stored_jobs(client) == []


@pytest.mark.parametrize(
    ("content", "content_type", "status", "says"),
    [
        (b"{not json", "application/json", 422, "not valid JSON"),
        (b"org_id=a", "application/x-www-form-urlencoded", 415, "must be JSON"),
        (b"hello", "text/plain", 415, "must be JSON"),
        (b'{"org_id": "' + b"a" * 70_000 + b'"}', "application/json", 413, "larger than"),
        (b"", "application/json", 422, "body"),
    ],
)
def test_bad_bodies(client: TestClient, content: bytes, content_type: str, status: int,
                    says: str) -> None:
    response = client.post("/jobs", content=content, headers={"content-type": content_type})
    assert response.status_code == status
    assert says in response.json()["detail"]
    assert stored_jobs(client) == []


@pytest.mark.parametrize(
    ("params", "says"),
    [({"status": "done"}, "status"), ({"limit": 0}, "limit"), ({"limit": 5000}, "limit"),
     ({"target": "tv"}, "target"), ({"app_version_id_contains": ""}, "app_version_id_contains"),
     ({"app_version_id_contains": "x" * 201}, "app_version_id_contains")],
)
def test_bad_list_queries(client: TestClient, params: dict, says: str) -> None:
    response = client.get("/jobs", params=params)
    assert response.status_code == 422
    assert says in response.json()["detail"]


def test_health_and_docs(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["database"] == "sqlite"
    schema = client.get("/openapi.json").json()
    assert {"/jobs", "/jobs/{job_id}", "/groups", "/agents", "/health"} <= set(schema["paths"])
    assert client.get("/docs").status_code == 200


def test_the_same_idempotency_key_gives_the_same_job(client: TestClient) -> None:
    first = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "ci-981-login"})
    again = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "ci-981-login"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["job_id"] == first.json()["job_id"]
    other_org = client.post("/jobs", json={**JOB, "org_id": "acme"},
                            headers={"Idempotency-Key": "ci-981-login"})
    assert other_org.status_code == 201  # keys are per org
    misuse = client.post("/jobs", json={**JOB, "test_path": "other.spec.js"},
                         headers={"Idempotency-Key": "ci-981-login"})
    assert misuse.status_code == 409 and "already used" in misuse.json()["detail"]
    assert misuse.json()["code"] == "idempotency_key_reused"
    assert len(stored_jobs(client)) == 2


@pytest.mark.parametrize("change", [{"priority": 5}, {"priority": "urgent"}, {"priority": 1},
                                    {"max_attempts": 10}])
def test_a_key_sent_again_asking_for_something_else_is_a_409(
        client: TestClient, change: dict[str, object]) -> None:
    """A replay that answered 200 with the first job would drop what the second request
    asked (ten attempts, priority 5) while saying it was done."""
    first = client.post("/jobs", json={**JOB, "max_attempts": 1},
                        headers={"Idempotency-Key": "k-1"})
    again = client.post("/jobs", json={**JOB, "max_attempts": 1, **change},
                        headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    assert again.status_code == 409 and again.json()["code"] == "idempotency_key_reused"
    assert len(stored_jobs(client)) == 1


def test_a_key_sent_again_without_max_attempts_is_the_same_job(client: TestClient) -> None:
    """Without `max_attempts` a request takes the server's default, which may have changed
    before a retry of it comes: only a number it names must match."""
    first = client.post("/jobs", json={**JOB, "max_attempts": 1},
                        headers={"Idempotency-Key": "k-2"})
    again = client.post("/jobs", json=JOB, headers={"Idempotency-Key": "k-2"})
    assert again.status_code == 200 and again.json()["job_id"] == first.json()["job_id"]


@pytest.mark.parametrize("second", [{"priority": 5}, {"max_attempts": 2}])
def test_a_key_twice_in_a_batch_asking_otherwise_is_a_422(
        client: TestClient, second: dict[str, object]) -> None:
    jobs = [{**JOB, "max_attempts": 1, "idempotency_key": "k"},
            {**JOB, "max_attempts": 1, **second, "idempotency_key": "k"}]
    answer = client.post("/jobs/batch", json={"jobs": jobs})
    assert answer.status_code == 422 and "for different jobs (jobs.0 and jobs.1)" in \
        answer.json()["detail"]
    assert stored_jobs(client) == []


def test_a_key_twice_in_a_batch_one_without_max_attempts_is_one_job(client: TestClient) -> None:
    """As a key sent again in another request: one left out takes the default, compared with
    nothing."""
    jobs = [{**JOB, "max_attempts": 2, "idempotency_key": "k"}, {**JOB, "idempotency_key": "k"}]
    answer = client.post("/jobs/batch", json={"jobs": jobs})
    assert answer.status_code == 201
    [first, again] = answer.json()["jobs"]
    assert first["job_id"] == again["job_id"] and len(stored_jobs(client)) == 1


def test_batch_entries_carry_their_own_keys(client: TestClient) -> None:
    body = {"jobs": [{**JOB, "idempotency_key": "k1"},
                     {**JOB, "test_path": "b.spec.js", "idempotency_key": "k2"}]}
    first = client.post("/jobs/batch", json=body).json()["jobs"]
    again = client.post("/jobs/batch", json=body).json()["jobs"]
    assert [j["job_id"] for j in first] == [j["job_id"] for j in again]
    assert len(stored_jobs(client)) == 2


def test_a_batch_refuses_an_idempotency_key_header(client: TestClient) -> None:
    """Keys are per job: a header for the whole batch is refused, not silently ignored (a
    retried batch would queue every job twice)."""
    body = {"jobs": [JOB, {**JOB, "test_path": "b.spec.js"}]}
    for _ in range(2):
        refused = client.post("/jobs/batch", json=body, headers={"Idempotency-Key": "ci-1"})
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_input")
        assert "each job its own idempotency_key" in refused.json()["detail"]
        assert refused.json()["errors"][0]["field"] == "header.idempotency-key"
    assert stored_jobs(client) == []


@pytest.mark.parametrize("key", ["", "x" * 201, "has space", "tab\there"])
def test_bad_idempotency_keys(client: TestClient, key: str) -> None:
    response = client.post("/jobs", json={**JOB, "idempotency_key": key})
    assert response.status_code == 422
    assert stored_jobs(client) == []
