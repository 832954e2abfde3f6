"""Runs through the API: a run made, jobs submitted into it, its counts and per-test rows
(failures first) as agents report, a re-run of its failed tests only as a linked run,
cancelling, paging, and every bad input a 4xx with a code."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from qgjob.api.routes import jobs as jobs_routes
from tests.api.test_agent_protocol import claim, register

RUN = {"org_id": "qualgent", "app_version_id": "xyz123", "name": "ci #42"}


def _job(path: str) -> dict[str, Any]:
    return {"org_id": "qualgent", "app_version_id": "xyz123", "test_path": path,
            "max_attempts": 1}


def _run_with_jobs(client: TestClient, *paths: str, **run: Any) -> tuple[str, list[str]]:
    made = client.post("/runs", json={**RUN, **run})
    assert made.status_code == 201, made.text
    run_id = made.json()["run_id"]
    batch = client.post(f"/jobs/batch?run_id={run_id}", json={"jobs": [_job(p) for p in paths]})
    assert batch.status_code == 201, batch.text
    return run_id, [j["job_id"] for j in batch.json()["jobs"]]


def _play(client: TestClient, results: dict[str, dict[str, Any]]) -> None:
    """An agent runs every queued job; `results` says how each test path ends."""
    agent = register(client)
    while (answer := claim(client, agent)).status_code == 200:
        batch = answer.json()
        for job in batch["jobs"]:
            base = f"/agents/{agent}/jobs/{job['job_id']}"
            client.post(f"{base}/start", json={"lease_id": batch["lease_id"]})
            report = {"lease_id": batch["lease_id"], "attempt": 1,
                      **results.get(job["test_path"], {"outcome": "passed"})}
            assert client.post(f"{base}/report", json=report).status_code == 200


FAILED_WITH_CASES = {"outcome": "failed", "error": "1 failed", "tests": [
    {"title": "logs in", "status": "passed", "duration_seconds": 1.0},
    {"title": "bad password", "status": "failed", "duration_seconds": 0.5,
     "error": "expected 401"}]}


def test_a_run_counts_its_jobs_and_reruns_only_its_failed_tests(client: TestClient) -> None:
    run_id, _ = _run_with_jobs(client, "tests/a.spec.js", "tests/b.spec.js", "tests/c.spec.js")
    queued = client.get(f"/runs/{run_id}").json()
    assert queued["status"] == "queued" and queued["counts"]["queued"] == 3
    assert queued["actions"] == ["cancel"] and queued["targets"] == ["emulator"]

    _play(client, {"tests/b.spec.js": FAILED_WITH_CASES,
                   "tests/c.spec.js": {"outcome": "failed", "error": "no device"}})

    run = client.get(f"/runs/{run_id}").json()
    assert run["status"] == "failed" and run["finished_at"] is not None
    assert {k: run["counts"][k] for k in ("total", "passed", "failed", "queued")} == {
        "total": 3, "passed": 1, "failed": 2, "queued": 0}
    rows = [(t["test_path"], t["title"], t["result"]) for t in run["tests"]]
    assert rows == [("tests/b.spec.js", "bad password", "failed"),
                    ("tests/c.spec.js", None, "failed"),
                    ("tests/b.spec.js", "logs in", "passed"),
                    ("tests/a.spec.js", None, "passed")]
    assert run["actions"] == ["rerun-failed"]

    again = client.post(f"/runs/{run_id}/rerun-failed")
    assert again.status_code == 201, again.text
    rerun = again.json()
    assert (rerun["rerun_of"], rerun["attempt"], rerun["name"]) == (run_id, 2, "ci #42")
    assert sorted(t["test_path"] for t in rerun["tests"]) == ["tests/b.spec.js",
                                                             "tests/c.spec.js"]
    assert rerun["status"] == "queued"
    assert _code(client.post(f"/runs/{rerun['run_id']}/rerun-failed"), 409) == \
        "run_not_finished"

    cancelled = client.post(f"/runs/{rerun['run_id']}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["counts"]["cancelled"] == 2
    assert _code(client.post(f"/runs/{rerun['run_id']}/cancel"), 409) == "run_finished"
    assert _code(client.post(f"/runs/{rerun['run_id']}/rerun-failed"), 409) == "nothing_failed"


def test_a_rerun_with_an_idempotency_key_is_made_once(client: TestClient) -> None:
    run_id, _ = _run_with_jobs(client, "tests/a.spec.js")
    _play(client, {"tests/a.spec.js": {"outcome": "failed", "error": "x"}})
    key = {"Idempotency-Key": "gh:1:rerun"}
    first = client.post(f"/runs/{run_id}/rerun-failed", headers=key)
    second = client.post(f"/runs/{run_id}/rerun-failed", headers=key)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["run_id"] == second.json()["run_id"]
    assert second.headers["Idempotent-Replayed"] == "true"


def test_post_runs_is_idempotent_and_keeps_its_source(client: TestClient) -> None:
    source = {"repository": "acme/app", "workflow": "CI", "ci_run_id": "99",
              "ci_run_attempt": 2, "commit_sha": "0123abcd", "branch": "feature/x",
              "pull_request": 12, "url": "https://github.com/acme/app/actions/runs/99"}
    body = {**RUN, "source": source, "idempotency_key": "gh:99:2"}
    first, second = client.post("/runs", json=body), client.post("/runs", json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["run_id"] == second.json()["run_id"]
    assert first.json()["source"] == source


def test_an_idempotency_key_of_another_run_is_a_409(client: TestClient) -> None:
    """It gave back the key's run (200) whatever the body; the client then got 422
    `run_mismatch` submitting its build's jobs into it. Jobs answered 409 already."""
    body = {**RUN, "idempotency_key": "gh:7:1"}
    first = client.post("/runs", json=body)
    assert first.status_code == 201, first.text
    run_id = first.json()["run_id"]
    assert client.post("/runs", json=body).json()["run_id"] == run_id
    for change in ({"app_version_id": "other"}, {"name": "ci #43"}):
        answer = client.post("/runs", json={**body, **change})
        assert _code(answer, 409) == "idempotency_key_reused"
        assert answer.json()["detail"] == (
            f"Idempotency-Key 'gh:7:1' was already used for another run ({run_id})")
    header = client.post("/runs", json={**RUN, "name": "ci #43"},
                         headers={"Idempotency-Key": "gh:7:1"})
    assert _code(header, 409) == "idempotency_key_reused"
    assert client.get("/runs").json()["count"] == 1


@pytest.mark.parametrize("early_check", [True, False], ids=["route", "store"])
def test_a_cancelled_run_takes_no_new_jobs(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                           early_check: bool) -> None:
    """They were queued (201) and the run read `running` again after its cancel. A submit
    racing the cancel passes the route's early check (it reads the run before the submit's
    transaction; here the check is skipped): the store refuses it in that transaction, and
    the answer is the same."""
    run_id, _ = _run_with_jobs(client, "tests/a.spec.js")
    assert client.post(f"/runs/{run_id}/cancel").json()["status"] == "cancelled"
    if not early_check:
        monkeypatch.setattr(jobs_routes, "check_takes_jobs", lambda run: None)
    one = client.post(f"/jobs?run_id={run_id}", json=_job("tests/b.spec.js"))
    batch = client.post(f"/jobs/batch?run_id={run_id}", json={"jobs": [_job("tests/c.spec.js")]})
    for answer in (one, batch):
        assert _code(answer, 409) == "run_finished"
        assert answer.json()["detail"] == (f"run {run_id!r} was cancelled (cancelled): it takes "
                                           "no new jobs; submit them into a new run")
    run = client.get(f"/runs/{run_id}").json()
    assert run["status"] == "cancelled" and run["counts"]["total"] == 1
    assert client.get("/jobs").json()["count"] == 1


def test_a_run_cancelled_after_a_failure_takes_no_new_jobs(client: TestClient) -> None:
    """Its status reads `failed` (a failure outranks the cancelled jobs); it was cancelled
    all the same."""
    run_id, _ = _run_with_jobs(client, "tests/a.spec.js")
    _play(client, {"tests/a.spec.js": {"outcome": "failed", "error": "x"}})
    client.post(f"/jobs/batch?run_id={run_id}", json={"jobs": [_job("tests/b.spec.js")]})
    assert client.post(f"/runs/{run_id}/cancel").json()["status"] == "failed"
    answer = client.post(f"/jobs?run_id={run_id}", json=_job("tests/c.spec.js"))
    assert _code(answer, 409) == "run_finished"


@pytest.mark.parametrize("early_check", [True, False], ids=["route", "store"])
def test_a_run_cancelled_while_its_job_runs_takes_no_new_jobs(
        client: TestClient, monkeypatch: pytest.MonkeyPatch, early_check: bool) -> None:
    """The running job is only asked to stop, so by its jobs the run still read `running`
    and took the new job (queued, 201), and never read cancelled again: the run itself
    remembers its cancel."""
    run_id, [job_id] = _run_with_jobs(client, "tests/a.spec.js")
    agent = register(client)
    batch = claim(client, agent).json()
    client.post(f"/agents/{agent}/jobs/{job_id}/start", json={"lease_id": batch["lease_id"]})
    cancelled = client.post(f"/runs/{run_id}/cancel").json()
    assert cancelled["status"] == "running" and cancelled["cancelled_at"] is not None
    if not early_check:
        monkeypatch.setattr(jobs_routes, "check_takes_jobs", lambda run: None)
    answer = client.post(f"/jobs/batch?run_id={run_id}", json={"jobs": [_job("tests/b.spec.js")]})
    assert _code(answer, 409) == "run_finished"
    assert answer.json()["detail"] == (f"run {run_id!r} was cancelled (running): it takes no "
                                       "new jobs; submit them into a new run")
    assert client.get(f"/runs/{run_id}").json()["counts"]["total"] == 1


def test_a_cancelled_run_whose_job_is_stopping_offers_no_second_cancel(
        client: TestClient) -> None:
    """By its jobs it still runs, so its page offered "Cancel run" again after the cancel;
    the run remembers its cancel, and the job asked to stop ends cancelled anyway."""
    run_id, [job_id] = _run_with_jobs(client, "tests/a.spec.js")
    agent = register(client)
    batch = claim(client, agent).json()
    client.post(f"/agents/{agent}/jobs/{job_id}/start", json={"lease_id": batch["lease_id"]})
    assert client.get(f"/runs/{run_id}").json()["actions"] == ["cancel"]
    cancelled = client.post(f"/runs/{run_id}/cancel").json()
    assert cancelled["status"] == "running" and cancelled["actions"] == []
    assert client.get(f"/runs/{run_id}").json()["actions"] == []


def test_a_run_where_a_job_alone_was_cancelled_still_takes_jobs(client: TestClient) -> None:
    """Its status reads `cancelled` (by its jobs), but nobody cancelled the run: a later
    `qgjob submit --run` into it was refused."""
    run_id, [alone, _] = _run_with_jobs(client, "tests/a.spec.js", "tests/b.spec.js")
    assert client.post(f"/jobs/{alone}/cancel").status_code == 200
    _play(client, {})
    run = client.get(f"/runs/{run_id}").json()
    assert run["status"] == "cancelled" and run["cancelled_at"] is None
    answer = client.post(f"/jobs/batch?run_id={run_id}", json={"jobs": [_job("tests/c.spec.js")]})
    assert answer.status_code == 201, answer.text


def test_a_run_that_passed_or_failed_still_takes_jobs(client: TestClient) -> None:
    """Several CI jobs may submit into one run, one after another's jobs finished, and a
    retried `qgjob run` step submits into its finished run again (tests/cli/test_run.py)."""
    made = {result: _run_with_jobs(client, f"tests/{result}.spec.js")[0]
            for result in ("passed", "failed")}
    _play(client, {"tests/failed.spec.js": {"outcome": "failed", "error": "x"}})
    for result, run_id in made.items():
        assert client.get(f"/runs/{run_id}").json()["status"] == result
        more = client.post(f"/jobs?run_id={run_id}", json=_job("tests/more.spec.js"))
        assert more.status_code == 201, more.text
        assert client.get(f"/runs/{run_id}").json()["status"] in ("queued", "running")


def test_runs_page_newest_first_with_a_cursor(client: TestClient) -> None:
    made = [_run_with_jobs(client, "tests/a.spec.js", name=f"run {n}")[0] for n in range(3)]
    first = client.get("/runs?limit=2").json()
    assert [r["run_id"] for r in first["runs"]] == made[:0:-1]
    second = client.get("/runs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [r["run_id"] for r in second["runs"]] == made[:1] and second["next_cursor"] is None
    assert client.get("/runs?status=passed").json()["count"] == 0
    assert client.get("/runs?status=queued&app_version_id=xyz123").json()["count"] == 3


def test_a_page_of_runs_holds_up_to_a_thousand_as_every_list_does(client: TestClient) -> None:
    _run_with_jobs(client, "tests/a.spec.js")
    assert client.get("/runs?limit=1000").json()["count"] == 1
    too_many = client.get("/runs?limit=1001")
    assert too_many.status_code == 422 and too_many.json()["code"] == "invalid_input"


def test_bad_input_is_a_4xx_with_a_code(client: TestClient) -> None:
    run_id, _ = _run_with_jobs(client, "tests/a.spec.js")
    other_build = {**_job("tests/a.spec.js"), "app_version_id": "other"}
    cases = [
        (client.get("/runs?cursor=not-a-cursor"), 422, "bad_cursor"),
        (client.get("/runs?cursor=WzEsMl0"), 422, "bad_cursor"),  # [1,2]
        (client.get("/runs?status=green"), 422, "invalid_input"),
        (client.get("/runs?limit=0"), 422, "invalid_input"),
        (client.get("/runs/no-such-run"), 404, "unknown_run"),
        (client.get("/runs/bad%20id"), 422, "invalid_input"),
        (client.post("/runs/no-such-run/cancel"), 404, "unknown_run"),
        (client.post("/runs/no-such-run/rerun-failed"), 404, "unknown_run"),
        (client.post(f"/jobs?run_id={run_id}", json=other_build), 422, "run_mismatch"),
        (client.post("/jobs/batch?run_id=nope", json={"jobs": [other_build]}), 404,
         "unknown_run"),
        (client.post("/runs", json={**RUN, "name": "two\nlines"}), 422, "invalid_input"),
        (client.post("/runs", json={**RUN, "source": {"pull_request": "7"}}), 422,
         "invalid_input"),
        (client.post("/runs", json={**RUN, "source": {"url": "javascript:x"}}), 422,
         "invalid_input"),
        (client.post(f"/runs/{run_id}/rerun-failed"), 409, "run_not_finished"),
    ]
    for response, status, code in cases:
        assert _code(response, status) == code, response.request.url


def _code(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    return str(response.json()["code"])
