"""Every value at the edge is bounded: a bad one is a 4xx with one readable line, never a
500 and never an echo of what was sent."""

from __future__ import annotations

import asyncio
import json
import typing
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter, ValidationError

from qgjob.api.errors import RequestGuard
from qgjob.protocol import fields as schemas

JOB = {"org_id": "acme", "app_version_id": "xyz123", "test_path": "tests/a.spec.js"}
LONG = "x" * 5000


def test_browserstack_build_ids_are_accepted(client: TestClient) -> None:
    job = {**JOB, "app_version_id": "bs://f7c874f21852ba57957a3fdc33f47514288c4ba4",
           "target": "browserstack"}
    assert client.post("/jobs", json=job).status_code == 201


@pytest.mark.parametrize(("method", "path", "params", "body", "status"), [
    ("GET", f"/jobs/{LONG}", None, None, 422),
    ("GET", "/jobs/bad%20id", None, None, 422),
    ("GET", "/jobs/ok-id/logs", {"offset": "9" * 40}, None, 422),
    ("GET", "/jobs/ok-id/files/1/..%2Fsecret", None, None, 404),  # matches no route
    ("GET", "/jobs/ok-id/files/1/" + "a" * 101, None, None, 422),
    ("GET", "/jobs", {"job_id": [LONG]}, None, 422),
    ("GET", "/jobs", {"job_id": ["a"] * 1001}, None, 422),
    ("GET", "/jobs", {"limit": 1001}, None, 422),
    ("GET", "/jobs", {"org_id": "a b"}, None, 422),
    ("GET", "/groups", {"limit": 1001}, None, 422),
    ("POST", f"/jobs/{LONG}/cancel", None, None, 422),
    ("POST", "/jobs", None, {**JOB, "test_path": "--config=evil.js"}, 422),
    ("POST", "/jobs", None, {**JOB, "test_path": "/etc/passwd"}, 422),
    ("POST", "/jobs/batch", None, {"jobs": [JOB] * 1001}, 422),
    ("POST", "/jobs/batch", None, {"jobs": [{**JOB, "test_path": "a" * 1024}] * 2100}, 413),
    ("POST", f"/agents/{LONG}/heartbeat", None, {"devices": []}, 422),
    ("POST", "/agents", None, {"name": "lab", "version": "1\n2",
                               "devices": [{"name": "e1", "target": "emulator"}]}, 422),
])
def test_bad_values_are_refused(client: TestClient, method: str, path: str, params: Any,
                                body: Any, status: int) -> None:
    response = client.request(method, path, params=params, json=body)
    assert response.status_code == status, response.text
    assert LONG not in response.text and len(response.text) < 2000
    assert isinstance(response.json()["detail"], str)


def test_a_full_batch_of_long_paths_fits_the_body_cap(client: TestClient) -> None:
    paths = [f"tests/{'deep/' * 50}{n:04d}.spec.js" for n in range(1000)]
    response = client.post("/jobs/batch", json={"jobs": [{**JOB, "test_path": path}
                                                         for path in paths]})
    assert response.status_code == 201, response.text[:300]
    assert len(response.json()["jobs"]) == 1000


@pytest.mark.parametrize("content", ["\u0097\udbbb", "e30", "e30=!"])
def test_report_files_must_be_base64(client: TestClient, content: str) -> None:
    agent = client.post("/agents", json={
        "name": "lab", "devices": [{"name": "e1", "target": "emulator"}]}).json()["agent"]
    body = json.dumps({"lease_id": "l1", "attempt": 1, "name": "r.json",
                       "content_base64": content})  # ASCII, with \u escapes
    response = client.post(f"/agents/{agent['agent_id']}/jobs/j1/files", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == 422 and "content_base64" in response.json()["detail"]


def test_deeply_nested_json_is_a_client_error(client: TestClient) -> None:
    body = "[" * 30_000 + "]" * 30_000
    response = client.post("/jobs", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422  # as invalid JSON is (tests/api/test_input_edges.py)
    assert response.json()["code"] == "invalid_input"


@pytest.mark.parametrize("value", [True, False, 2.0, "2"])
def test_max_attempts_takes_only_whole_numbers(client: TestClient, value: object) -> None:
    response = client.post("/jobs", json={**JOB, "max_attempts": value})
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("max_attempts:")


def _request_models() -> list[type[BaseModel]]:
    """Every model a request body is made of: the API's strict inputs and what they nest."""
    found: list[type[BaseModel]] = []
    pending: list[type[BaseModel]] = list(schemas.Strict.__subclasses__())
    while pending:
        model = pending.pop()
        if model in found:
            continue
        found.append(model)
        for field in model.model_fields.values():
            pending += [arg for arg in _types_in(field.annotation)
                        if isinstance(arg, type) and issubclass(arg, BaseModel)]
    return found


def _types_in(annotation: object) -> list[object]:
    args = typing.get_args(annotation)
    return [annotation, *[t for arg in args for t in _types_in(arg)]]


NUMBER_FIELDS = [(model, name) for model in _request_models()
                 for name, field in model.model_fields.items()
                 if {int, float, bool} & set(_types_in(field.annotation))]


def test_every_number_and_flag_in_a_request_is_found() -> None:
    names = {f"{model.__name__}.{name}" for model, name in NUMBER_FIELDS}
    assert {"JobCreate.max_attempts", "AttemptReport.attempt", "ClaimRequest.wait_seconds",
            "InstallReport.ok", "CasePublic.duration_seconds"} <= names


@pytest.mark.parametrize(("model", "name"), NUMBER_FIELDS,
                         ids=[f"{m.__name__}.{n}" for m, n in NUMBER_FIELDS])
def test_no_request_field_takes_a_boolean_or_a_string_for_a_number(
        model: type[BaseModel], name: str) -> None:
    field = model.model_fields[name]
    accepts = TypeAdapter(typing.Annotated[field.annotation, *field.metadata])
    if bool in _types_in(field.annotation):
        wrong: list[object] = [1, "true"]
    elif float in _types_in(field.annotation):
        wrong = [True, "1"]
    else:  # a priority's names aside, an integer is a JSON integer
        wrong = [True, "1", 1.0]
    for value in wrong:
        with pytest.raises(ValidationError):
            accepts.validate_python(value)


@pytest.mark.parametrize("query", ["org_id=a&org_id=b", "status=queued&status=failed",
                                   "limit=5&limit=6"])
def test_a_single_valued_query_parameter_given_twice_is_refused(client: TestClient,
                                                                 query: str) -> None:
    answer = client.get(f"/jobs?{query}")
    assert answer.status_code == 422
    assert "takes one value, got 2" in answer.json()["detail"]


@pytest.mark.parametrize("path", ["/jobs?stat=failed", "/jobs?org=acme", "/runs?sttus=failed",
                                  "/jobs?" + "x" * 5000 + "=1"])
def test_an_unknown_query_parameter_of_a_listing_is_refused(client: TestClient,
                                                            path: str) -> None:
    """A typo'd filter listed everything, unfiltered, as if it held."""
    answer = client.get(path)
    assert answer.status_code == 422
    assert "is not a parameter of this route (it takes" in answer.json()["detail"]
    assert len(answer.text) < 2000


@pytest.mark.parametrize("path", ["/?utm_source=mail", "/static/app.js?v=2", "/health?probe=1"])
def test_pages_files_and_routes_without_parameters_ignore_a_query(client: TestClient,
                                                                  path: str) -> None:
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("name", ["nightly\u0085", "a\u2028b", "\u202enoisrev", "x\u2066y"])
def test_a_run_name_is_one_line_that_reads_as_it_is_spelt(client: TestClient,
                                                           name: str) -> None:
    """NEL and the Unicode line separators break a line; bidirectional overrides make a name
    show reversed in a terminal or the dashboard."""
    answer = client.post("/runs", json={"org_id": "acme", "app_version_id": "v1", "name": name})
    assert answer.status_code == 422
    assert client.post("/runs", json={"org_id": "acme", "app_version_id": "v1",
                                      "name": "nightly ✓ café"}).status_code == 201


def test_a_list_query_parameter_may_repeat(client: TestClient) -> None:
    assert client.get("/jobs?job_id=a&job_id=b").status_code == 200


@pytest.mark.parametrize(("name", "first", "second"), [
    ("Idempotency-Key", "a1", "b1"), ("Idempotency-Key", "a1", ""),
    ("Authorization", "Bearer one", "Bearer two"),
    ("Content-Type", "text/plain", "application/json")])
def test_a_header_given_twice_is_refused_and_nothing_is_stored(
        client: TestClient, name: str, first: str, second: str) -> None:
    """Which copy would count is a guess (credentials and keys were read from the first, the
    body's type from the last), so neither does."""
    headers = [(name, first), (name, second)]
    if name != "Content-Type":
        headers.append(("Content-Type", "application/json"))
    answer = client.post("/jobs", content=json.dumps(JOB), headers=headers)
    assert answer.status_code == 400
    assert answer.json() == {"detail": f"the {name} header is given more than once: send it once",
                             "code": "header_repeated"}
    assert client.get("/jobs").json()["jobs"] == []


def test_a_read_with_two_authorization_headers_is_refused(client: TestClient) -> None:
    answer = client.get("/jobs", headers=[("Authorization", "Bearer a"),
                                          ("Authorization", "Bearer b")])
    assert answer.status_code == 400


@pytest.mark.parametrize("name", ["a%0Ab.png", "a%0Db.png", "a%09b.png"])
@pytest.mark.parametrize("size", [1, 70 * 1024])
def test_an_upload_named_with_a_control_character_is_a_bad_name_whatever_its_size(
        client: TestClient, name: str, size: int) -> None:
    """A newline in the name once made the body guard take the upload for a JSON request
    (415, or 413 at 64 KiB) instead of leaving the name to the route."""
    from tests.api.test_agent_protocol import running_job

    agent, job_id, lease = running_job(client)
    answer = client.put(f"/agents/{agent}/jobs/{job_id}/artifacts/{name}",
                        params={"lease_id": lease, "attempt": 1}, content=b"x" * size,
                        headers={"Content-Type": "application/octet-stream"})
    assert (answer.status_code, answer.json()["code"]) == (400, "bad_artifact_name")


def test_a_body_with_thousands_of_errors_is_answered_in_a_few_lines(
        client: TestClient) -> None:
    """6,000 unknown fields once came back as a 478 KB answer listing every one."""
    answer = client.post("/quarantine", json={f"k{n}": 1 for n in range(6000)})
    assert answer.status_code == 422 and len(answer.content) < 3000
    problem = answer.json()
    assert problem["code"] == "invalid_input" and len(problem["errors"]) == 20
    assert problem["error_count"] == 6002  # two fields missing, 6,000 unknown
    assert problem["detail"].startswith("org_id: is required; test_path: is required; k0: is")
    assert problem["detail"].endswith("; … and 5982 more")


def test_an_unknown_field_is_named_without_echoing_a_long_name(client: TestClient) -> None:
    answer = client.post("/quarantine", json={LONG: 1})
    assert answer.status_code == 422 and LONG not in answer.text and len(answer.text) < 1000
    assert {"field": "x" * 99 + "…", "message": "is not a known field"} \
        in answer.json()["errors"]


@pytest.mark.parametrize(("length", "refused"), [
    ("00000000000000000000045", False),  # leading zeros: HTTP allows them, h11 takes them
    ("0" * 5000, False),
    ("1" + "0" * 20, True),
    ("65537", True),
])
def test_a_content_length_is_read_as_its_number(length: str, refused: bool) -> None:
    """Before, 13 characters or more were a 413 "larger than 65536 bytes" whatever they
    said."""
    answered: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        answered.append(201)

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answered.append(message["status"])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/jobs",
             "headers": [(b"content-length", length.encode()),
                         (b"content-type", b"application/json")]}
    asyncio.run(RequestGuard(app, max_body_bytes=65536)(scope, receive, send))
    assert answered == ([413] if refused else [201])
