"""`GET /jobs` a page at a time (cursor, claim order, search) and `GET /jobs/{id}/place`:
where a job that has not started stands and why it waits."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_agent_protocol import claim, register

JOB = {"org_id": "qualgent", "app_version_id": "xyz123", "target": "emulator"}


def submit_many(client: TestClient, jobs: list[dict[str, Any]]) -> list[str]:
    answer = client.post("/jobs/batch", json={"jobs": [{**JOB, **job} for job in jobs]})
    assert answer.status_code == 201, answer.text
    return [job["job_id"] for job in answer.json()["jobs"]]


def every_page(client: TestClient, **params: Any) -> list[list[str]]:
    found: list[list[str]] = []
    cursor = None
    while True:
        page = client.get("/jobs", params={**params, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        body = page.json()
        found.append([job["job_id"] for job in body["jobs"]])
        assert body["count"] == len(body["jobs"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def test_pages_follow_each_other_and_the_last_says_so(client: TestClient) -> None:
    ids = submit_many(client, [{"test_path": f"tests/t{n}.spec.js"} for n in range(5)])
    pages = every_page(client, limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    whole = client.get("/jobs", params={"limit": 5}).json()
    listed = [job_id for page in pages for job_id in page]
    assert listed == [j["job_id"] for j in whole["jobs"]]
    assert sorted(listed) == sorted(ids)
    assert whole["next_cursor"] is None  # exactly the number asked for: no next page


def test_claim_order_lists_queued_jobs_in_the_order_devices_take_them(
        client: TestClient) -> None:
    low, urgent, normal, high = submit_many(client, [
        {"test_path": "tests/low.spec.js", "priority": 1},
        {"test_path": "tests/urgent.spec.js", "priority": 5},
        {"test_path": "tests/normal.spec.js"},
        {"test_path": "tests/high.spec.js", "priority": 4}])
    pages = every_page(client, status="queued", order="claim", limit=3)
    assert pages == [[urgent, high, normal], [low]]


def test_search_matches_part_of_a_build_or_a_test(client: TestClient) -> None:
    login, checkout = submit_many(client, [
        {"test_path": "tests/Login.spec.js", "app_version_id": "release-2.4.1"},
        {"test_path": "tests/checkout.spec.js", "app_version_id": "nightly-77"}])

    def found(text: str) -> list[str]:
        return [j["job_id"] for j in client.get("/jobs", params={"search": text}).json()["jobs"]]
    assert found("login") == [login]
    assert found("2.4") == [login]
    assert found("NIGHTLY") == [checkout]
    assert found("nothing") == []


@pytest.mark.parametrize(
    ("params", "says"),
    [({"cursor": "not-a-cursor"}, "cursor: not one this server gave out"),
     ({"cursor": "WzEsMl0"}, "cursor: not one this server gave out"),  # [1,2]
     ({"search": ""}, "search"), ({"search": "x" * 201}, "search"),
     ({"search": "a\x00b"}, "search"),
     ({"app_version_id_contains": "a\nb"}, "app_version_id_contains"),
     ({"order": "oldest"}, "order")],
)
def test_bad_paging_is_a_422_saying_what(client: TestClient, params: dict, says: str) -> None:
    answer = client.get("/jobs", params=params)
    assert answer.status_code == 422
    assert says in answer.json()["detail"]
    assert answer.json()["code"] == ("bad_cursor" if "cursor" in params else "invalid_input")


def test_a_cursor_of_one_order_is_refused_in_the_other(client: TestClient) -> None:
    submit_many(client, [{"test_path": f"tests/t{n}.spec.js"} for n in range(3)])
    cursor = client.get("/jobs", params={"limit": 1}).json()["next_cursor"]
    answer = client.get("/jobs", params={"limit": 1, "order": "claim", "cursor": cursor})
    assert answer.status_code == 422
    assert answer.json()["detail"] == "cursor: it continues a list in 'newest' order, not 'claim'"
    assert answer.json()["code"] == "bad_cursor"  # as GET /runs says of a cursor


def test_the_old_parameters_keep_working(client: TestClient) -> None:
    [job] = submit_many(client, [{"test_path": "tests/a.spec.js"}])
    listed = client.get("/jobs", params={"app_version_id_contains": "z12", "limit": 10,
                                         "status": "queued"}).json()
    assert [j["job_id"] for j in listed["jobs"]] == [job]
    assert listed["count"] == 1 and listed["next_cursor"] is None


def test_a_queued_job_says_where_it_stands_and_why_it_waits(client: TestClient) -> None:
    ids = submit_many(client, [{"test_path": f"tests/t{n}.spec.js"} for n in range(3)])
    places = {job_id: client.get(f"/jobs/{job_id}/place").json() for job_id in ids}
    # One batch shares its submit time: the id decides, as in claims.
    in_line = sorted(ids, key=lambda job_id: places[job_id]["ahead_in_build"])
    assert [places[job_id]["ahead_in_build"] for job_id in in_line] == [0, 1, 2]
    for place in places.values():
        assert place["waiting"] is True and place["build_queued"] == 3
        assert (place["build_position"], place["builds_waiting"]) == (1, 1)
        assert place["reason"].startswith("no device takes work on target emulator:")

    agent = register(client, [{"name": "emulator-1", "target": "emulator"}])
    batch = claim(client, agent, device="emulator-1").json()
    taken = [j["job_id"] for j in batch["jobs"]]
    assert taken == in_line[:len(taken)]
    if len(taken) > 1:  # in a device's batch, not in line
        assert client.get(f"/jobs/{taken[1]}/place").json()["reason"].startswith(
            "next in the batch of device")
    client.post(f"/agents/{agent}/jobs/{taken[0]}/start", json={"lease_id": batch["lease_id"]})
    assert client.get(f"/jobs/{taken[0]}/place").json() == {
        "job_id": taken[0], "waiting": False, "reason": None, "build_position": None,
        "builds_waiting": 0, "devices_working": 0, "ahead_in_build": None,
        "build_queued": None, "estimated_start_at": None}


def test_a_job_of_a_build_behind_another_says_its_place(client: TestClient) -> None:
    register(client, [{"name": "emulator-1", "target": "emulator"}])
    submit_many(client, [{"test_path": "tests/a.spec.js", "app_version_id": "first"}])
    [later] = submit_many(client, [{"test_path": "tests/b.spec.js", "app_version_id": "second"}])
    place = client.get(f"/jobs/{later}/place").json()
    assert (place["build_position"], place["builds_waiting"]) == (2, 2)
    assert place["ahead_in_build"] == 0
    assert place["reason"]


def test_the_place_of_an_unknown_job_is_a_404(client: TestClient) -> None:
    assert client.get("/jobs/nope/place").status_code == 404
