"""What an agent reports is text a test printed, and a test may print anything: a NUL, which
PostgreSQL's text cannot hold (the report was refused with 500 and the job stayed running) and
which cut SQLite's logs short, or a lone surrogate, which no UTF-8 encodes. Every free-text
field an agent sends keeps all its text on both stores, such a character shown as U+FFFD."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import AfterValidator, BaseModel, BeforeValidator

from qgjob.api.app import create_app
from qgjob.domain import values
from qgjob.protocol import fields as schemas
from qgjob.settings import ServerSettings
from tests.api.test_agent_protocol import JOB, claim, register
from tests.postgres import BACKENDS, database_url

SHOWN = "\ufffd"


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    with database_url(request.param, tmp_path) as url:
        settings = ServerSettings(database_url=url, heartbeat_seconds=0.2,
                                  claim_poll_seconds=0.2,
                                  artifact_dir=str(tmp_path / "artifacts"))
        with TestClient(create_app(settings, maintenance=False)) as test_client:
            yield test_client


def running_job(client: TestClient) -> tuple[str, str, str]:
    job_id = client.post("/jobs", json=JOB).json()["job_id"]
    agent = register(client)
    lease = claim(client, agent).json()["lease_id"]
    started = client.post(f"/agents/{agent}/jobs/{job_id}/start", json={"lease_id": lease})
    assert started.status_code == 200, started.text
    return agent, job_id, lease


def post(client: TestClient, path: str, body: dict[str, Any]) -> Any:
    """JSON as any client may send it: a lone surrogate goes as its `\\ud800` escape."""
    return client.post(path, content=json.dumps(body),
                       headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("odd", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
def test_every_text_an_agent_reports_is_kept_whole(client: TestClient, odd: str) -> None:
    agent, job_id, lease = running_job(client)
    chunk = post(client, f"/agents/{agent}/jobs/{job_id}/output",
                 {"lease_id": lease, "attempt": 1, "text": f"before{odd}after\n"})
    assert chunk.status_code == 204, chunk.text
    report: dict[str, Any] = {
        "lease_id": lease, "attempt": 1, "outcome": "failed",
        "error": f"expected{odd}got", "output": f"tail{odd}end\n",
        "tests": [{"title": f"a{odd}b", "status": "failed", "duration_seconds": 1.0,
                   "error": f"boom{odd}bang", "file": f"x{odd}.spec.js"}]}
    reported = post(client, f"/agents/{agent}/jobs/{job_id}/report", report)
    assert reported.status_code == 200, reported.text
    assert reported.json()["status"] == "queued"  # a retry: the report counted

    logs = client.get(f"/jobs/{job_id}/logs", params={"attempt": 1}).text
    assert logs == f"before{SHOWN}after\ntail{SHOWN}end\n"
    job = client.get(f"/jobs/{job_id}").json()
    assert job["error"] == f"expected{SHOWN}got"
    [case] = job["tests"]
    assert (case["title"], case["error"], case["file"]) == (
        f"a{SHOWN}b", f"boom{SHOWN}bang", f"x{SHOWN}.spec.js")
    [attempt] = client.get(f"/jobs/{job_id}/attempts").json()["attempts"]
    assert attempt["error"] == f"expected{SHOWN}got"


def test_an_evidence_files_test_title_is_text_like_a_cases(client: TestClient) -> None:
    """The `test` query parameter of an upload is the title a case of the report has: a NUL
    is shown as U+FFFD there too, not listed raw. (A lone surrogate cannot come in a URL:
    its UTF-8 bytes are invalid, and are read as U+FFFD already.)"""
    agent, job_id, lease = running_job(client)
    uploaded = client.put(f"/agents/{agent}/jobs/{job_id}/artifacts/kept.png"
                          f"?lease_id={lease}&attempt=1&test=login%00fails", content=b"png")
    assert uploaded.status_code == 204, uploaded.text
    [attempt] = client.get(f"/jobs/{job_id}/artifacts").json()["attempts"]
    assert [f["test"] for f in attempt["files"]] == [f"login{SHOWN}fails"]


@pytest.mark.parametrize("field", ["org_id", "app_version_id", "test_path"])
def test_a_nul_in_a_submitted_name_is_refused_with_a_message(client: TestClient,
                                                            field: str) -> None:
    response = client.post("/jobs", json={**JOB, field: JOB[field] + "\x00"})
    assert response.status_code == 422 and field in response.json()["detail"]


def request_models() -> set[type[BaseModel]]:
    """Every model a request body is made of (the agent's cases are public models too)."""
    found: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = list(schemas.Strict.__subclasses__())
    while todo:
        model = todo.pop()
        if model in found:
            continue
        found.add(model)
        for field in model.model_fields.values():
            for kind in (field.annotation, *typing.get_args(field.annotation)):
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    todo.append(kind)
    return found


def test_every_text_field_of_a_request_refuses_or_shows_what_no_store_keeps() -> None:
    unguarded = []
    for model in request_models():
        for name, field in model.model_fields.items():
            if field.annotation not in (str, str | None):
                continue  # a Literal, a number, or a list of checked names
            checked = any(getattr(m, "pattern", None) or isinstance(m, AfterValidator)
                          for m in field.metadata)
            shown = any(isinstance(m, BeforeValidator) and m.func is values.storable_text
                        for m in field.metadata)
            if not (checked or shown):
                unguarded.append(f"{model.__name__}.{name}")
    assert unguarded == []
