"""`GET /tests` and `/quarantine` through the app factory: scoped to the caller's org like
jobs, bad input answered 4xx with one readable line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qgjob.api.app import create_app
from qgjob.auth import tokens
from qgjob.auth.tokens import Role
from qgjob.domain.attempts import Outcome
from qgjob.settings import ServerSettings
from qgjob.store import open_store
from qgjob.store.base import Store
from tests.factories import T0, new_job
from tests.store.helpers import claim, finish, register, start


def run_once(store: Store, org: str, test: str, outcome: Outcome, at: float) -> None:
    store.insert_jobs([new_job(org_id=org, test_path=test, at=at, max_attempts=1)])
    agent = register(store, at=at)
    batch = claim(store, agent, at=at).batch
    assert batch is not None
    start(store, batch.jobs[0].job_id, batch.lease.lease_id, at)
    finish(store, batch.jobs[0].job_id, batch.lease.lease_id, 1, outcome, at + 2, "boom")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    settings = ServerSettings(database_url=f"sqlite:///{tmp_path / 'h.db'}",
                              rate_limit_per_second=0)
    store = open_store(settings.database_url)
    headers = {}
    for who, role, org in [("admin", Role.ADMIN, None), ("acme", Role.SUBMITTER, "acme"),
                           ("agent", Role.AGENT, None)]:
        record, text = tokens.issue(role, org, 0.0)
        store.insert_token(record)
        headers[who] = {"Authorization": f"Bearer {text}"}
    run_once(store, "acme", "tests/a.spec.js", Outcome.FAILED, T0)
    run_once(store, "globex", "tests/g.spec.js", Outcome.PASSED, T0 + 100)
    with TestClient(create_app(settings, store, maintenance=False,
                                clock=lambda: T0 + 3600)) as client:
        yield client, headers
    store.close()


def paths(answer: dict) -> list[str]:
    return [t["test_path"] for t in answer["tests"]]


def test_each_caller_sees_its_own_orgs_tests(world: tuple[TestClient, dict]) -> None:
    client, who = world
    assert paths(client.get("/tests", headers=who["admin"]).json()) == [
        "tests/a.spec.js", "tests/g.spec.js"]
    assert paths(client.get("/tests", headers=who["acme"]).json()) == ["tests/a.spec.js"]
    assert paths(client.get("/tests?org_id=globex", headers=who["acme"]).json()) == []
    assert client.get("/tests", headers=who["agent"]).status_code == 403
    assert client.get("/tests").status_code == 401
    [test] = client.get("/tests?org_id=acme", headers=who["admin"]).json()["tests"]
    assert (test["status"], test["runs"], test["last_failure"]["error"]) == ("new", 1, "boom")


def test_stats_are_per_org(world: tuple[TestClient, dict]) -> None:
    client, who = world
    every = client.get("/stats", headers=who["admin"]).json()["stats"]
    assert [(s["org_id"], s["failed"], s["completed"]) for s in every] == [
        ("acme", 1, 0), ("globex", 0, 1)]
    [own] = client.get("/stats", headers=who["acme"]).json()["stats"]
    assert own["org_id"] == "acme" and own["device_hours"] == round(2 / 3600, 3)
    assert client.get("/stats?org_id=globex", headers=who["acme"]).json()["stats"] == []
    assert client.get("/stats", headers=who["agent"]).status_code == 403


def test_quarantine_is_per_org(world: tuple[TestClient, dict]) -> None:
    client, who = world
    body = {"org_id": "acme", "test_path": "tests/a.spec.js", "reason": "flaky"}
    assert client.post("/quarantine", json=body, headers=who["acme"]).status_code == 201
    assert client.post("/quarantine", json=body, headers=who["acme"]).status_code == 200
    other = {**body, "org_id": "globex"}
    assert client.post("/quarantine", json=other, headers=who["acme"]).status_code == 403
    assert client.get("/quarantine?org_id=globex", headers=who["acme"]).json() == {
        "quarantined": []}
    [entry] = client.get("/quarantine", headers=who["acme"]).json()["quarantined"]
    assert entry["reason"] == "flaky" and entry["added_by"]
    [test] = client.get("/tests", headers=who["acme"]).json()["tests"]
    assert test["quarantined"]
    gone = client.delete("/quarantine", params={"org_id": "acme",
                                                "test_path": "tests/a.spec.js"},
                         headers=who["acme"])
    assert gone.status_code == 204
    again = client.delete("/quarantine", params={"org_id": "acme",
                                                 "test_path": "tests/a.spec.js"},
                          headers=who["acme"])
    assert again.status_code == 404 and "not quarantined" in again.json()["detail"]


def test_quarantining_again_updates_the_reason(world: tuple[TestClient, dict]) -> None:
    """It answered 200 with the old reason; `"reason": null` was a 422 though leaving it
    out was taken."""
    client, who = world
    body = {"org_id": "acme", "test_path": "tests/a.spec.js"}
    made = client.post("/quarantine", json={**body, "reason": None}, headers=who["acme"])
    assert made.status_code == 201, made.text
    assert made.json()["reason"] == ""
    again = client.post("/quarantine", json={**body, "reason": "flaky login"},
                        headers=who["acme"])
    assert again.status_code == 200 and again.json()["reason"] == "flaky login"
    kept = client.post("/quarantine", json={**body, "reason": None}, headers=who["acme"])
    assert kept.status_code == 200 and kept.json() == again.json()
    assert client.get("/quarantine", headers=who["acme"]).json()["quarantined"] == [kept.json()]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/tests?sort=bogus", None), ("GET", "/tests?limit=0", None),
     ("GET", "/tests?org_id=a%20b", None), ("GET", "/tests?target=phone", None),
     ("POST", "/quarantine", {"org_id": "acme", "test_path": "../x"}),
     ("POST", "/quarantine", {"org_id": "acme", "test_path": "a.js", "reason": "a\nb"}),
     ("POST", "/quarantine", {"org_id": "acme", "test_path": "a.js", "extra": 1}),
     ("DELETE", "/quarantine?org_id=acme", None), ("GET", "/stats?days=0", None),
     ("GET", "/stats?days=nan", None), ("GET", "/stats?days=1e400", None)],
)
def test_bad_input_is_a_4xx_problem(world: tuple[TestClient, dict], method: str, path: str,
                                    body: dict | None) -> None:
    client, who = world
    answer = client.request(method, path, json=body, headers=who["admin"])
    assert answer.status_code == 422
    assert answer.json()["detail"]
