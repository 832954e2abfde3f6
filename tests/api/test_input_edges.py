"""Input a probe found answered wrongly: a forged page cursor (500), bodies that cannot be
parsed (400 without the 422 shape), unknown fields inside `source`, a priority given as a
float or a string, a repeated idempotency key in a batch, and untrue messages. Each is a 4xx
in the API's error shape, saying what is wrong, and stores nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qgjob.cli.jobs import Submission
from qgjob.protocol.cursors import NOT_OURS
from qgjob.protocol.jobs import decode_job_cursor, encode_job_cursor
from qgjob.protocol.runs import decode_cursor
from tests.api.test_input_hardening import _request_models
from tests.factories import make_job

JOB = {"org_id": "acme", "app_version_id": "xyz123", "test_path": "tests/a.spec.js"}
JSON = {"content-type": "application/json"}


def _cursor(raw: str) -> str:
    """A cursor as `pack_cursor` spells one, around any JSON text."""
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _stored(client: TestClient) -> list[dict[str, Any]]:
    return client.get("/jobs", params={"limit": 1000}).json()["jobs"]  # type: ignore[no-any-return]


def _is_invalid_input(answer: Any, field: str, says: str) -> None:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["code"] == "invalid_input"
    assert says in body["detail"]
    assert [item["field"] for item in body["errors"]] == [field]


# 1. Cursors: every value is checked, by type and range, before it reaches SQL.

FORGED_JOB_CURSORS = [
    '["claim",9223372036854775808,1.0,"x"]',  # the probe's: past SQLite's INTEGER
    '["newest",9223372036854775808,1.0,"x"]',
    '["claim",-9223372036854775809,1.0,"x"]',
    '["claim",7,1.0,"x"]',  # no job has priority 7 (the schema allows 1-5)
    '["claim",true,1.0,"x"]',
    '["claim",3.0,1.0,"x"]',
    '["claim",3,NaN,"x"]',
    '["claim",3,Infinity,"x"]',
    '["newest",3,-Infinity,"x"]',
    '["newest",3,1e308,"x"]',
    '["newest",3,' + "9" * 120 + ',"x"]',  # an integer too big for a float
    '["newest",3,-1.0,"x"]',
    '["newest",3,"1.0","x"]',
    '["newest",3,1.0,"x\\u0000y"]',  # PostgreSQL refuses NUL in text
    '["newest",3,1.0,"x\\ud800"]',  # a lone surrogate: no store can encode it
    '["newest",3,1.0,""]',
    '["newest",3,1.0,"a b"]',
    '["newest",3,1.0,["x"]]',
    '["newest",3,1.0,null]',
    '[["newest"],3,1.0,"x"]',
    '[{"newest":1},3,1.0,"x"]',
    '["oldest",3,1.0,"x"]',
]


@pytest.mark.parametrize("order", ["newest", "claim"])
@pytest.mark.parametrize("raw", FORGED_JOB_CURSORS)
def test_a_forged_job_cursor_is_a_422_bad_cursor_whatever_the_order(
        client: TestClient, raw: str, order: str) -> None:
    """The probe's cursor (an integer past 64 bits) reached SQLite and was a 500. Each value
    of a cursor is checked first, in either order, so a forged one is what a garbled one
    is: a 422 `bad_cursor`."""
    answer = client.get("/jobs", params={"order": order, "cursor": _cursor(raw)})
    assert answer.status_code == 422, answer.text
    assert answer.json() == {"detail": NOT_OURS, "code": "bad_cursor"}


def test_the_probes_cursor_exactly(client: TestClient) -> None:
    answer = client.get("/jobs?order=claim&cursor=WyJjbGFpbSIsIDkyMjMzNzIwMzY4NTQ3NzU4MDgsIDEuMCw"
                        "gIngiXQ")
    assert answer.status_code == 422
    assert answer.json()["code"] == "bad_cursor"


@pytest.mark.parametrize("raw", [
    "[1e308,\"r1\"]", "[NaN,\"r1\"]", "[Infinity,\"r1\"]", "[" + "9" * 120 + ",\"r1\"]",
    "[-5,\"r1\"]", "[true,\"r1\"]", "[1.0,\"r\\u0000\"]", "[1.0,\"r\\udc00\"]", "[1.0,\"\"]",
    "[1.0,7]", "[\"1.0\",\"r1\"]",
])
def test_a_forged_run_cursor_is_a_422_bad_cursor(client: TestClient, raw: str) -> None:
    """`GET /runs` decodes its cursors with the same checks."""
    answer = client.get("/runs", params={"cursor": _cursor(raw)})
    assert answer.status_code == 422, answer.text
    assert answer.json() == {"detail": NOT_OURS, "code": "bad_cursor"}


def test_cursors_the_server_writes_still_decode() -> None:
    """The checks take every position a stored job or run can have."""
    for priority in (1, 5):
        job = make_job(job_id="01m960sn7ga80s1a2113ze4bhd", priority=priority,
                       created_at=1_800_000_000.123456)
        for order in ("newest", "claim"):
            at = decode_job_cursor(encode_job_cursor(order, job), order)
            assert (at.priority, at.created_at, at.job_id) == (
                priority, 1_800_000_000.123456, "01m960sn7ga80s1a2113ze4bhd")
    assert decode_cursor(_cursor('[0,"a.b:c@d-e_f"]')) == (0.0, "a.b:c@d-e_f")


# 2. Bodies that cannot be parsed answer as invalid JSON does.

UNPARSEABLE = {
    "not UTF-8": b'{"org_id":"p1","app_version_id":"v1","test_path":"a\xff.js"}',
    "a 5,000-digit integer": b'{"org_id":"p1","priority":' + b"1" * 5000 + b"}",
    "objects 5,000 deep": b'{"a":' * 5000,
    "objects 5,000 deep, closed": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "arrays 30,000 deep": b"[" * 30_000 + b"]" * 30_000,
}


@pytest.mark.parametrize("path", ["/jobs", "/jobs/batch", "/runs", "/quarantine"])
@pytest.mark.parametrize("what", list(UNPARSEABLE))
def test_a_body_that_cannot_be_parsed_is_a_422_like_invalid_json(
        client: TestClient, what: str, path: str) -> None:
    """FastAPI answers these 400 "There was an error parsing the body" (no `errors`, no
    `code`); the README promises invalid JSON a 422 `invalid_input`, as `{bad` gets."""
    answer = client.post(path, content=UNPARSEABLE[what], headers=JSON)
    _is_invalid_input(answer, "body", "is not valid JSON")
    assert len(answer.text) < 500  # the body is not echoed
    assert _stored(client) == []


def test_invalid_json_keeps_its_answer(client: TestClient) -> None:
    answer = client.post("/jobs", content=b"{bad", headers=JSON)
    assert answer.json() == {"detail": "body: is not valid JSON", "code": "invalid_input",
                             "errors": [{"field": "body", "message": "is not valid JSON"}],
                             "error_count": 1}


# 3. Unknown fields are refused inside `source` as at the top of a body.

def test_an_unknown_field_inside_a_runs_source_is_refused(client: TestClient) -> None:
    answer = client.post("/runs", json={"org_id": "r1", "app_version_id": "v1",
                                        "source": {"bogus": 1}})
    _is_invalid_input(answer, "source.bogus", "source.bogus: is not a known field")
    assert client.get("/runs").json()["count"] == 0


AGENT_REPORT_CASE = {"CasePublic"}
"""A test case of an agent's attempt report: the agent protocol, left as it is here."""


def test_every_model_of_a_submitters_body_refuses_unknown_fields() -> None:
    """Nested models too: `RunSourceFields` was a plain model and dropped them silently."""
    lax = {model.__name__ for model in _request_models()
           if model.model_config.get("extra") != "forbid"} - AGENT_REPORT_CASE
    assert lax == set()


# 4. A priority is a JSON integer 1-5 or a name, as max_attempts is an integer.

@pytest.mark.parametrize(("raw", "says"), [
    ("2.0", "priority 2.0 is no integer"),
    ("3e0", "priority 3.0 is no integer"),
    ('"2"', "priority '2' is a string"),
    ('" 4 "', "is a string"),
    ("true", "priority must be an integer 1-5"),
    ("null", "priority must be an integer 1-5"),
    ("[3]", "priority must be an integer 1-5"),
    ("7", "priority 7 is out of range 1-5"),
    ("1" + "0" * 40, "priority is out of range 1-5"),
    ('"asap"', "priority 'asap' is not 1-5"),
])
def test_priority_must_be_a_json_integer_or_a_name(client: TestClient, raw: str,
                                                   says: str) -> None:
    """`2.0`, `3e0` and `"2"` were taken as 2 and 3, where `max_attempts: 2.0` is refused:
    the README's Input rules say `"2"` and `2.0` are no integer. In a batch too."""
    text = '{"org_id":"acme","app_version_id":"xyz123","test_path":"a.js","priority":' + raw + "}"
    _is_invalid_input(client.post("/jobs", content=text, headers=JSON), "priority", says)
    batch = '{"jobs":[' + text + "]}"
    _is_invalid_input(client.post("/jobs/batch", content=batch, headers=JSON),
                      "jobs.0.priority", says)
    assert _stored(client) == []


@pytest.mark.parametrize(("given", "priority"), [(1, 1), (5, 5), ("high", 4), ("URGENT", 5),
                                                 (" low ", 1)])
def test_integers_and_names_are_still_priorities(client: TestClient, given: object,
                                                 priority: int) -> None:
    answer = client.post("/jobs", json={**JOB, "priority": given})
    assert answer.status_code == 201, answer.text
    assert answer.json()["priority"] == priority


# 5. max_attempts: null is the server's default, as the CLI sends it.

def test_the_bodies_the_cli_sends_are_taken(client: TestClient) -> None:
    """`qgjob submit` and `qgjob run` send `"max_attempts": null` (and `"idempotency_key":
    null`) when no --max-attempts (or key) was given, and a priority as an integer (its
    option parses `--priority 2` or `high`): null is the server's default
    (QGJOB_MAX_ATTEMPTS), as the schema says, not a 422."""
    submission = Submission("acme", "xyz123", "emulator", 4, None, None)
    [body] = submission.bodies(["tests/a.spec.js"])
    assert body["max_attempts"] is None
    answer = client.post("/jobs/batch", json={"jobs": [{**body, "idempotency_key": None}]})
    assert answer.status_code == 201, answer.text
    [job] = answer.json()["jobs"]
    assert (job["max_attempts"], job["priority"]) == (3, 4)
    schema = client.get("/openapi.json").json()["components"]["schemas"]["JobCreate"]
    assert "null" in schema["properties"]["max_attempts"]["description"]


# 6. Messages that say what happened.

def test_a_key_twice_in_a_batch_for_different_tests_is_a_422_naming_both(
        client: TestClient) -> None:
    """It was a 409 "already used for another job (<id>)" naming a job that was never
    stored (a 404)."""
    jobs = [{**JOB, "idempotency_key": "k0"}, {**JOB, "test_path": "b.js"},
            {**JOB, "idempotency_key": "k"}, {**JOB, "test_path": "c.js", "idempotency_key": "k"}]
    answer = client.post("/jobs/batch", json={"jobs": jobs})
    _is_invalid_input(answer, "jobs", "idempotency_key 'k' appears twice in the batch, for "
                                      "different jobs (jobs.2 and jobs.3)")
    assert "already used" not in answer.text
    assert _stored(client) == []


def test_a_key_twice_in_a_batch_for_one_test_is_still_one_job(client: TestClient) -> None:
    """A retried chunk may repeat a job with its key: the store gives it back once (and a
    key is per org, so two orgs may each use it)."""
    jobs = [{**JOB, "idempotency_key": "k"}, {**JOB, "idempotency_key": "k"},
            {**JOB, "org_id": "other", "test_path": "b.js", "idempotency_key": "k"}]
    answer = client.post("/jobs/batch", json={"jobs": jobs})
    assert answer.status_code == 201, answer.text
    first, again, other = (job["job_id"] for job in answer.json()["jobs"])
    assert first == again != other
    assert len(_stored(client)) == 2


def test_cancelling_a_run_without_jobs_says_so(client: TestClient) -> None:
    """It said "has finished (queued)": the run had not finished, it had no jobs."""
    run_id = client.post("/runs", json={"org_id": "r1", "app_version_id": "v1"}).json()["run_id"]
    answer = client.post(f"/runs/{run_id}/cancel")
    assert answer.status_code == 409
    assert answer.json() == {"detail": f"run {run_id!r} has no jobs: nothing to cancel",
                             "code": "run_finished"}
    assert client.get(f"/runs/{run_id}").json()["status"] == "queued"


def test_a_finished_run_still_says_it_finished(client: TestClient) -> None:
    run_id = client.post("/runs", json={"org_id": "acme", "app_version_id": "xyz123"}).json()[
        "run_id"]
    [job] = client.post(f"/jobs/batch?run_id={run_id}", json={"jobs": [JOB]}).json()["jobs"]
    assert client.post(f"/jobs/{job['job_id']}/cancel").status_code == 200
    answer = client.post(f"/runs/{run_id}/cancel")
    assert answer.status_code == 409 and answer.json()["code"] == "run_finished"
    assert "has finished (cancelled)" in answer.json()["detail"]


def test_no_answer_here_echoes_a_long_value(client: TestClient) -> None:
    long = "9" * 4000
    answer = client.post("/jobs", content=json.dumps({**JOB, "priority": long}), headers=JSON)
    assert answer.status_code == 422 and long not in answer.text and len(answer.text) < 500
