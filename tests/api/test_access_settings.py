"""Access with no tokens, revocation, rate limits and the public-dashboard setting. A fake
clock stands in for time: nothing sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from qgjob.api.app import create_app
from qgjob.auth import tokens
from qgjob.auth.tokens import Role
from qgjob.settings import ServerSettings
from qgjob.store import open_store
from qgjob.store.base import Store
from tests.conftest import fast_settings, serve

JOB = {"org_id": "acme", "app_version_id": "bs://f7c874f21852ba57957a3fdc33f47514288c4ba4",
       "test_path": "tests/a.spec.js"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def app_with(tmp_path: Path, clock: Clock | None = None, **settings: Any
             ) -> Iterator[tuple[TestClient, Store]]:
    config = ServerSettings(database_url=f"sqlite:///{tmp_path / 'a.db'}?synchronous=normal",
                            **settings)
    store = open_store(config.database_url)
    app = create_app(config, store, maintenance=False, clock=clock or Clock())
    with TestClient(app) as client:
        yield client, store
    store.close()


def issue(store: Store, role: Role = Role.ADMIN, org: str | None = None) -> tuple[str, str]:
    record, text = tokens.issue(role, org, 0.0)
    store.insert_token(record)
    return record.token_id, text


def bearer(text: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {text}"}


def test_with_no_tokens_everything_is_open(tmp_path: Path) -> None:
    with app_with(tmp_path) as (client, _):
        assert client.post("/jobs", json=JOB).status_code == 201
        assert client.get("/jobs").status_code == 200
        registered = client.post("/agents", json={
            "name": "lab", "devices": [{"name": "e1", "target": "emulator"}]})
        assert registered.status_code == 201
        assert client.get("/").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_a_server_beyond_loopback_stays_closed_when_every_token_is_revoked(
        tmp_path: Path) -> None:
    with app_with(tmp_path, open_without_tokens=False) as (client, _):
        refused = client.get("/jobs")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert client.get("/health").status_code == 200


def test_tokens_take_effect_and_revocation_within_the_cache_time(tmp_path: Path) -> None:
    clock = Clock()
    with app_with(tmp_path, clock, token_cache_seconds=2.0) as (client, store):
        assert client.get("/jobs").status_code == 200  # no tokens yet: open
        token_id, text = issue(store)
        clock.now += 2.0
        assert client.get("/jobs").status_code == 401
        assert client.get("/jobs", headers=bearer(text)).status_code == 200
        store.revoke_token(token_id, clock.now)
        issue(store)  # another token keeps the server closed
        clock.now += 2.0
        assert client.get("/jobs", headers=bearer(text)).status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute(tmp_path: Path) -> None:
    clock = Clock()
    with app_with(tmp_path, clock) as (client, store):
        token_id, text = issue(store)
        client.get("/jobs", headers=bearer(text))
        first = store.get_token(token_id)
        clock.now += 30
        client.get("/jobs", headers=bearer(text))
        assert store.get_token(token_id) == first and first is not None
        assert first.last_used_at == clock.now - 30


def test_rate_limits_answer_429_with_retry_after_per_token(tmp_path: Path) -> None:
    clock = Clock()
    with app_with(tmp_path, clock, rate_limit_per_second=1, rate_limit_burst=2) as (
            client, store):
        _, first = issue(store, Role.SUBMITTER, "acme")
        _, second = issue(store, Role.SUBMITTER, "acme")
        assert [client.get("/jobs", headers=bearer(first)).status_code
                for _ in range(3)] == [200, 200, 429]
        limited = client.get("/jobs", headers=bearer(first))
        assert limited.headers["retry-after"] == "1"
        assert "too many requests" in limited.json()["detail"]
        assert client.get("/jobs", headers=bearer(second)).status_code == 200
        clock.now += 1.0
        assert client.get("/jobs", headers=bearer(first)).status_code == 200


def test_a_batch_spends_one_of_the_job_budget_per_job(tmp_path: Path) -> None:
    """A batch is one request but many jobs: the jobs budget weighs it by its jobs."""
    clock = Clock()
    with app_with(tmp_path, clock, job_rate_limit_per_second=10,
                  job_rate_limit_burst=100) as (client, store):
        _, acme = issue(store, Role.SUBMITTER, "acme")
        batch = {"jobs": [{**JOB, "test_path": f"tests/{n}.spec.js"} for n in range(60)]}
        assert client.post("/jobs/batch", json=batch, headers=bearer(acme)).status_code == 201
        limited = client.post("/jobs/batch", json=batch, headers=bearer(acme))
        assert limited.status_code == 429, limited.text
        assert limited.headers["retry-after"] == "2"
        assert "jobs" in limited.json()["detail"]
        listed = client.get("/jobs", params={"limit": 1000}, headers=bearer(acme)).json()
        assert listed["count"] == 60  # nothing of the refused batch
        clock.now += 2
        assert client.post("/jobs/batch", json=batch, headers=bearer(acme)).status_code == 201
        for _ in range(5):
            clock.now += 1
            assert client.post("/jobs", json=JOB, headers=bearer(acme)).status_code == 201


def test_an_orgs_queue_has_a_cap(tmp_path: Path) -> None:
    clock = Clock()
    with app_with(tmp_path, clock, max_queued_jobs_per_org=5) as (client, _):
        batch = {"jobs": [{**JOB, "test_path": f"tests/{n}.spec.js"} for n in range(4)]}
        assert client.post("/jobs/batch", json=batch).status_code == 201
        full = client.post("/jobs/batch", json=batch)
        assert full.status_code == 409 and full.json()["code"] == "queue_full"
        assert full.json()["detail"] == (
            "org 'acme' has 4 jobs queued; these 4 would pass its cap of 5 "
            "(QGJOB_MAX_QUEUED_JOBS_PER_ORG): submit them once some have run")
        assert client.post("/jobs", json={**JOB, "org_id": "globex"}).status_code == 201
        assert client.post("/jobs", json=JOB).status_code == 201  # the fifth fits
        assert client.post("/jobs", json=JOB).status_code == 409
        [queued] = client.get("/jobs", params={"org_id": "acme", "limit": 1}).json()["jobs"]
        assert client.post(f"/jobs/{queued['job_id']}/cancel").status_code == 200
        clock.now += 2  # the server reads the queue again
        assert client.post("/jobs", json=JOB).status_code == 201


def test_the_agent_protocol_has_its_own_budget(tmp_path: Path) -> None:
    clock = Clock()
    with app_with(tmp_path, clock, rate_limit_per_second=1, rate_limit_burst=1,
                  agent_rate_limit_per_second=1, agent_rate_limit_burst=50) as (client, store):
        _, agent = issue(store, Role.AGENT)
        registered = client.post("/agents", headers=bearer(agent), json={
            "name": "lab", "devices": [{"name": "e1", "target": "emulator"}]}).json()
        beat = f"/agents/{registered['agent']['agent_id']}/heartbeat"
        codes = {client.post(beat, headers=bearer(agent), json={"devices": []}).status_code
                 for _ in range(20)}
        assert codes == {200}


def test_unauthenticated_callers_are_limited_by_address(tmp_path: Path) -> None:
    with app_with(tmp_path, rate_limit_per_second=1, rate_limit_burst=2) as (client, store):
        issue(store)
        assert [client.get("/jobs").status_code for _ in range(3)] == [401, 401, 429]


@pytest.mark.parametrize(("public", "status"), [(True, 200), (False, 401)])
def test_the_dashboard_follows_its_setting(tmp_path: Path, public: bool, status: int) -> None:
    """A public dashboard lets anyone read what an admin sees, without a token; changing
    anything still takes one."""
    with app_with(tmp_path, public_dashboard=public) as (client, store):
        issue(store)
        assert client.get("/").status_code == 200  # the page itself holds no data
        for path in ("/queue", "/groups", "/agents", "/jobs", "/timeline", "/metrics"):
            assert client.get(path).status_code == status, path
        assert client.post("/jobs", json=JOB).status_code == 401
        assert client.post("/agents", json={
            "name": "lab", "devices": [{"name": "e1", "target": "emulator"}]}).status_code == 401


@pytest.mark.parametrize(("public", "role", "may_read_all", "may_operate"), [
    (False, Role.ADMIN, True, True),
    (False, Role.SUBMITTER, False, False),
    (True, Role.SUBMITTER, True, False),  # GET /timeline answers it: the dashboard asks
    (True, None, True, False),  # no token on a public dashboard
])
def test_devices_says_whether_the_caller_reads_every_org(
        tmp_path: Path, public: bool, role: Role | None, may_read_all: bool,
        may_operate: bool) -> None:
    """`may_read_all` is what GET /timeline and GET /metrics decide, which the dashboard's
    timeline page goes by; `may_operate` stays an admin's token's."""
    with app_with(tmp_path, public_dashboard=public) as (client, store):
        _, admin = issue(store)
        _, submitter = issue(store, Role.SUBMITTER, "acme")
        headers = {} if role is None else bearer(admin if role is Role.ADMIN else submitter)
        devices = client.get("/devices", headers=headers).json()
        assert (devices["may_read_all"], devices["may_operate"]) == (may_read_all, may_operate)
        timeline = client.get("/timeline", headers=headers).status_code
        assert timeline == (200 if may_read_all else 403)


def test_with_no_tokens_devices_says_the_caller_reads_every_org(tmp_path: Path) -> None:
    with app_with(tmp_path) as (client, _):
        devices = client.get("/devices").json()
        assert devices["may_read_all"] and devices["may_operate"]


def test_an_agent_token_cannot_take_over_a_session_by_its_id(tmp_path: Path) -> None:
    with app_with(tmp_path) as (client, store):
        _, mine = issue(store, Role.AGENT)
        _, other = issue(store, Role.AGENT)
        agent_id = client.post("/agents", headers=bearer(mine), json={
            "name": "lab", "devices": [{"name": "e1", "target": "emulator"}]}
        ).json()["agent"]["agent_id"]
        refused = client.post(f"/agents/{agent_id}/claim", headers=bearer(other),
                              json={"device": "e1", "target": "emulator"})
        assert refused.status_code == 403
        assert "another token" in refused.json()["detail"]


def test_an_agent_token_cannot_replace_another_tokens_online_session(tmp_path: Path) -> None:
    with app_with(tmp_path) as (client, store):
        _, mine = issue(store, Role.AGENT)
        _, other = issue(store, Role.AGENT)
        body = {"name": "lab", "devices": [{"name": "e1", "target": "emulator"}]}
        first = client.post("/agents", headers=bearer(mine), json=body)
        assert first.status_code == 201
        restarted = {**body, "replaces_agent_id": first.json()["agent"]["agent_id"]}
        assert client.post("/agents", headers=bearer(mine), json=restarted).status_code == 201
        refused = client.post("/agents", headers=bearer(other), json=restarted)
        assert refused.status_code == 409 and "another token" in refused.json()["detail"]


@pytest.mark.parametrize(("trusted_proxies", "statuses"), [
    ("", [200, 200, 429, 429]),  # X-Forwarded-For from anyone else is not believed
    ("127.0.0.1", [200, 200, 200, 200]),  # each named client has its own budget
    ("10.0.0.0/8, ::1", [200, 200, 429, 429]),  # loopback is no such proxy
])
def test_only_trusted_proxies_name_the_client(tmp_path: Path, trusted_proxies: str,
                                              statuses: list[int]) -> None:
    """A real server on loopback: a client there must not pick its own rate-limit bucket
    by sending X-Forwarded-For, unless loopback is a configured proxy."""
    settings = fast_settings(tmp_path, rate_limit_per_second=0.01, rate_limit_burst=2,
                             trusted_proxies=trusted_proxies)
    with serve(settings) as live:
        got = [httpx.get(f"{live.url}/jobs", headers={"X-Forwarded-For": f"203.0.113.{n}"}
                         ).status_code for n in range(4)]
    assert got == statuses


def test_a_bad_trusted_proxy_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match=r"QGJOB_TRUSTED_PROXIES: 'proxy\.internal'"):
        ServerSettings.from_env({"QGJOB_TRUSTED_PROXIES": "10.0.0.1,proxy.internal"})
