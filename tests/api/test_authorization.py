"""The authorization matrix: role, endpoint and own or other org, against the real app factory
and a real SQLite database. "own" is acme's: its job runs on agent A's session; globex's job
and agent B's session are the "other" ones."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qgjob.api.app import create_app
from qgjob.auth import tokens
from qgjob.auth.tokens import Role
from qgjob.settings import ServerSettings
from qgjob.store import open_store

ACME_JOB = {"org_id": "acme", "app_version_id": "xyz123", "test_path": "tests/a.spec.js"}
GLOBEX_JOB = {"org_id": "globex", "app_version_id": "xyz123", "test_path": "tests/g.spec.js",
              "target": "device"}


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]
    ids: dict[str, str]

    def call(self, who: str, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}
        return self.client.request(method, path.format(**self.ids), json=body, headers=headers,
                                   follow_redirects=False)


@contextmanager
def built_world(folder: Path) -> Iterator[World]:
    settings = ServerSettings(database_url=f"sqlite:///{folder / 'auth.db'}?synchronous=normal",
                              rate_limit_per_second=0, agent_rate_limit_per_second=0,
                              artifact_dir=str(folder / "artifacts"))
    store = open_store(settings.database_url)
    texts = {}
    for who, role, org in [("admin", Role.ADMIN, None), ("acme", Role.SUBMITTER, "acme"),
                           ("globex", Role.SUBMITTER, "globex"), ("agent_a", Role.AGENT, None),
                           ("agent_b", Role.AGENT, None), ("revoked", Role.ADMIN, None)]:
        record, texts[who] = tokens.issue(role, org, 0.0)
        store.insert_token(record)
        if who == "revoked":
            store.revoke_token(record.token_id, 1.0)
    texts["forged"] = texts["admin"][:-4] + "AAAA"
    with TestClient(create_app(settings, store, maintenance=False)) as client:
        world = World(client, texts, {})
        world.ids = _populate(world)
        yield world
    store.close()


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """For the cells that change nothing: reads, and refused requests."""
    with built_world(tmp_path_factory.mktemp("shared")) as world:
        yield world


@pytest.fixture
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A world of its own for a cell that may change it (a POST that succeeds)."""
    params = request.node.callspec.params
    method, status = params.get("method"), params.get("status")
    if method == "GET" or status is None or status >= 400:
        yield request.getfixturevalue("shared_world")
        return
    with built_world(tmp_path) as world:
        yield world


def _populate(world: World) -> dict[str, str]:
    """acme's job runs on agent A (with output and a report file); globex's job waits."""
    ids = {"acme_job": world.call("admin", "POST", "/jobs", ACME_JOB).json()["job_id"],
           "globex_job": world.call("admin", "POST", "/jobs", GLOBEX_JOB).json()["job_id"]}
    for who, device, target in [("agent_a", "emulator-1", "emulator"),
                                ("agent_b", "phone-1", "device")]:
        registered = world.call(who, "POST", "/agents", {
            "name": f"lab-{who}", "devices": [{"name": device, "target": target}]})
        ids[who] = registered.json()["agent"]["agent_id"]
    batch = world.call("agent_a", "POST", f"/agents/{ids['agent_a']}/claim",
                       {"device": "emulator-1", "target": "emulator"}).json()
    ids["lease"] = batch["lease_id"]
    base = f"/agents/{ids['agent_a']}/jobs/{ids['acme_job']}"
    assert world.call("agent_a", "POST", f"{base}/start", {"lease_id": ids["lease"]}).is_success
    world.call("agent_a", "POST", f"{base}/output",
               {"lease_id": ids["lease"], "attempt": 1, "text": "acme output\n"})
    world.call("agent_a", "POST", f"{base}/files", {
        "lease_id": ids["lease"], "attempt": 1, "name": "report.json", "content_base64": "e30="})
    return ids


A = "/agents/{agent_a}"
LEASE = {"lease_id": "{lease}"}

Row = tuple[str, str, Any, dict[str, int]]
JOB_RESOURCES = ["GET ", "GET /logs", "GET /files", "GET /artifacts", "GET /attempts",
                 "GET /place", "POST /cancel"]


def own_and_other(resource: str) -> list[Row]:
    """acme's own job: 200 for acme; globex's: 404 for acme, as if it did not exist."""
    method, suffix = resource.split(" ")
    return [(method, f"/jobs/{{{org}_job}}{suffix}", None,
             dict(acme=status, agent_a=403, admin=200))
            for org, status in [("acme", 200), ("globex", 404)]]


# (method, path, body) -> status for each caller:
#   none (no token), forged (a well-formed token with a wrong secret), revoked,
#   acme (a submitter of the org that owns acme_job and agent A's work), agent_a (the agent
#   token that registered session A), agent_b (another agent token), admin.
MATRIX: list[Row] = [
    ("POST", "/jobs", ACME_JOB, dict(acme=201, agent_a=403, admin=201)),
    ("POST", "/jobs", GLOBEX_JOB, dict(acme=403, agent_a=403, admin=201)),
    ("POST", "/jobs/batch", {"jobs": [ACME_JOB]}, dict(acme=201, agent_a=403, admin=201)),
    ("POST", "/jobs/batch", {"jobs": [ACME_JOB, GLOBEX_JOB]},
     dict(acme=403, agent_a=403, admin=201)),
    ("GET", "/jobs", None, dict(acme=200, agent_a=403, admin=200)),
    ("GET", "/jobs?org_id=globex", None, dict(acme=200, agent_a=403, admin=200)),
    *[row for suffix in JOB_RESOURCES for row in own_and_other(suffix)],
    ("GET", "/jobs/{acme_job}/files/1/report.json", None,
     dict(acme=200, agent_a=403, admin=200)),
    ("GET", "/jobs/{globex_job}/files/1/report.json", None,  # globex's job has no file
     dict(acme=404, agent_a=403, admin=404)),
    ("GET", "/groups", None, dict(acme=200, agent_a=403, admin=200)),
    ("GET", "/queue", None, dict(acme=200, agent_a=403, admin=200)),
    ("GET", "/agents", None, dict(acme=200, agent_a=403, admin=200)),
    ("GET", "/devices", None, dict(acme=200, agent_a=403, admin=200)),
    # Fleet operations and the recorded history of every org: admins only.
    ("POST", "/agents/nobody/undrain", None, dict(acme=403, agent_a=403, admin=404)),
    ("POST", "/agents/nobody/drain", None, dict(acme=403, agent_a=403, admin=404)),
    ("DELETE", "/agents/nobody", None, dict(acme=403, agent_a=403, admin=404)),
    ("POST", "/devices/enable", {"device": "nobody/e1"}, dict(acme=403, agent_a=403,
                                                              admin=404)),
    ("GET", "/trace", None, dict(acme=403, agent_a=403, admin=200)),
    # The dashboard's page and code hold no data: open; what it reads is guarded as above.
    ("GET", "/", None, dict(none=200, forged=200, acme=200, agent_a=200, admin=200)),
    ("GET", "/static/app.js", None, dict(none=200, acme=200, admin=200)),
    # Every org's work at once: admins only.
    ("GET", "/metrics", None, dict(acme=403, agent_a=403, admin=200)),
    ("GET", "/timeline", None, dict(acme=403, agent_a=403, admin=200)),
    ("POST", "/agents", {"name": "lab-new", "devices": [{"name": "e1", "target": "emulator"}]},
     dict(acme=403, agent_a=201, agent_b=201, admin=201)),
    ("POST", f"{A}/heartbeat", {"devices": []}, dict(acme=403, agent_a=200, agent_b=403,
                                                    admin=200)),
    ("POST", f"{A}/claim", {"device": "emulator-1", "target": "emulator"},
     dict(acme=403, agent_a=204, agent_b=403, admin=204)),
    ("POST", f"{A}/jobs/{{acme_job}}/start", LEASE,
     dict(acme=403, agent_a=200, agent_b=403, admin=200)),
    ("POST", f"{A}/jobs/{{acme_job}}/output", {**LEASE, "attempt": 1, "text": "x"},
     dict(acme=403, agent_a=204, agent_b=403, admin=204)),
    ("POST", f"{A}/jobs/{{acme_job}}/files",
     {**LEASE, "attempt": 1, "name": "junit.xml", "content_base64": "PHgvPg=="},
     dict(acme=403, agent_a=204, agent_b=403, admin=204)),
    ("PUT", f"{A}/jobs/{{acme_job}}/artifacts/shot.png?lease_id={{lease}}&attempt=1", "png",
     dict(acme=403, agent_a=204, agent_b=403, admin=204)),
    ("POST", f"{A}/jobs/{{acme_job}}/report", {**LEASE, "attempt": 1, "outcome": "passed"},
     dict(acme=403, agent_a=200, agent_b=403, admin=200)),
    ("POST", f"{A}/leases/{{lease}}/release", {"job_ids": []},
     dict(acme=403, agent_a=200, agent_b=403, admin=200)),
    ("POST", f"{A}/installs",
     {"device": "emulator-1", "app_version_id": "xyz123", "target": "emulator", "seconds": 1},
     dict(acme=403, agent_a=204, agent_b=403, admin=204)),
    ("GET", "/health", None, dict(none=200, forged=200, revoked=200, acme=200, agent_a=200,
                                  admin=200)),
    ("GET", "/openapi.json", None, dict(none=200, forged=200, revoked=200, agent_a=200)),
    ("GET", "/docs", None, dict(none=200, forged=200, acme=200)),
    ("GET", "/docs/static/swagger-ui-bundle.js", None, dict(none=200, forged=200, acme=200)),
]
UNAUTHENTICATED = {"none": 401, "forged": 401, "revoked": 401}
CELLS = [(method, path, body, who, status)
         for method, path, body, statuses in MATRIX
         for who, status in (statuses if "none" in statuses
                             else {**UNAUTHENTICATED, **statuses}).items()]


def _filled(body: Any, ids: dict[str, str]) -> Any:
    if isinstance(body, dict):
        return {k: _filled(v, ids) for k, v in body.items()}
    if isinstance(body, list):
        return [_filled(v, ids) for v in body]
    return body.format(**ids) if isinstance(body, str) else body


@pytest.mark.parametrize(("method", "path", "body", "who", "status"), CELLS,
                         ids=[f"{c[3]}-{c[0]} {c[1]}-{i}" for i, c in enumerate(CELLS)])
def test_authorization_matrix(world: World, method: str, path: str, body: Any, who: str,
                              status: int) -> None:
    response = world.call(who, method, path, _filled(body, world.ids))
    assert response.status_code == status, response.text
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    if who == "acme" and response.is_success:
        assert "globex" not in response.text and world.ids["globex_job"] not in response.text


@pytest.mark.parametrize("path", ["/jobs", "/jobs?org_id=acme", "/groups", "/groups?all=true",
                                  "/queue", "/agents"])
def test_another_orgs_lists_show_nothing_of_acme(shared_world: World, path: str) -> None:
    world = shared_world
    response = world.call("globex", "GET", path)
    assert response.status_code == 200
    assert "acme" not in response.text and world.ids["acme_job"] not in response.text


def test_a_submitter_sees_its_own_work_in_the_shared_views(shared_world: World) -> None:
    world = shared_world
    jobs = world.call("acme", "GET", "/jobs").json()["jobs"]
    assert [j["job_id"] for j in jobs] == [world.ids["acme_job"]]
    assert world.call("acme", "GET", "/jobs?org_id=globex").json() == {
        "jobs": [], "count": 0, "next_cursor": None}
    [group] = world.call("acme", "GET", "/groups").json()["groups"]
    assert group["job_ids"] == [world.ids["acme_job"]] and group["counts"]["running"] == 1
    devices = {d["name"]: d for a in world.call("acme", "GET", "/agents").json()["agents"]
               for d in a["devices"]}
    assert devices["emulator-1"]["current_job_id"] == world.ids["acme_job"]
    queue = world.call("globex", "GET", "/queue").json()
    assert queue["by_org"] == {"globex": 1} and queue["running"] == 0
    assert [lane["org_id"] for lane in queue["lanes"]] == ["globex"]


def test_an_admin_sees_every_org(shared_world: World) -> None:
    jobs = shared_world.call("admin", "GET", "/jobs").json()["jobs"]
    assert {j["org_id"] for j in jobs} == {"acme", "globex"}
