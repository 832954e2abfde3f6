"""What a web page in a browser on the server's machine can make an open server do: change
nothing from another site, and reach nothing under a foreign name (DNS rebinding)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from qgjob.api.app import create_app
from qgjob.auth import tokens
from qgjob.auth.tokens import Role
from qgjob.settings import ServerSettings
from qgjob.store import open_store
from tests.api.test_agent_protocol import register

JOB = {"org_id": "acme", "app_version_id": "v1", "test_path": "tests/a.spec.js"}
EVIL = {"Origin": "https://evil.example", "Content-Type": "text/plain"}
LOOPBACK = "http://127.0.0.1:8000"


@contextmanager
def served(settings: ServerSettings, base_url: str = LOOPBACK,
           token: bool = False) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A client of the app as a connection to `base_url` reaches it (its address is the
    connection's local one), with an admin token's header when `token` asks for tokens."""
    store = open_store(settings.resolved_database_url)
    headers = {}
    if token:
        record, text = tokens.issue(Role.ADMIN, None, 0.0)
        store.insert_token(record)
        headers = {"Authorization": f"Bearer {text}"}
    try:
        with TestClient(create_app(settings, store, maintenance=False),
                        base_url=base_url) as client:
            yield client, headers
    finally:
        store.close()


def _draining(client: TestClient, headers: dict[str, str]) -> bool:
    [agent] = client.get("/agents", headers=headers).json()["agents"]
    return bool(agent["draining"])


@pytest.mark.parametrize("token", [False, True])
def test_a_cross_site_page_cannot_drain_the_local_agent_or_cancel(
        settings: ServerSettings, token: bool) -> None:
    with served(settings, token=token) as (client, auth):
        if not token:
            register(client, name="local")
        else:
            client.post("/agents", headers=auth, json={
                "name": "local", "executor": "simulate",
                "devices": [{"name": "emulator-1", "target": "emulator"}]})
        job_id = client.post("/jobs", json=JOB, headers=auth).json()["job_id"]
        for path in ["/agents/local/drain", f"/jobs/{job_id}/cancel"]:
            answer = client.post(path, headers={**auth, **EVIL})
            assert answer.status_code == 403, answer.text
            assert answer.json()["code"] == "cross_site_request"
            assert "'https://evil.example'" in answer.json()["detail"]
        assert not _draining(client, auth)
        assert client.get(f"/jobs/{job_id}", headers=auth).json()["status"] == "queued"


@pytest.mark.parametrize("browser", [
    {"Origin": "null"},  # a sandboxed frame or a file:// page
    {"Origin": "http://127.0.0.1:3000"},  # another port: another origin of the same site
    {"Origin": "http://localhost:8000"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site", "Origin": LOOPBACK},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:3000"},
    {"Sec-Fetch-Site": "same-site"},
    {"Sec-Fetch-Site": "none"},
])
@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT", "PATCH"])
def test_every_state_change_a_browser_marks_as_cross_site_is_refused(
        settings: ServerSettings, browser: dict[str, str], method: str) -> None:
    with served(settings) as (client, _):
        answer = client.request(method, "/agents/local/drain", headers=browser)
        assert (answer.status_code, answer.json()["code"]) == (403, "cross_site_request")


@pytest.mark.parametrize("sent", [
    {},  # the CLI, agents, curl
    {"Origin": LOOPBACK},  # the dashboard
    {"Origin": LOOPBACK, "Sec-Fetch-Site": "same-origin"},
    {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-site"},
    # A proxy that passes on its own upstream name: the browser still says same-origin.
    {"Origin": "https://qgjob.example.com", "Sec-Fetch-Site": "same-origin"},
])
def test_same_origin_pages_and_clients_without_a_browser_still_change_things(
        settings: ServerSettings, sent: dict[str, str]) -> None:
    with served(settings) as (client, _):
        register(client, name="local")
        answer = client.post("/agents/local/drain", headers=sent)
        assert answer.status_code == 200, answer.text
        assert _draining(client, {})


def test_a_cross_site_page_may_still_read(settings: ServerSettings) -> None:
    """Reading is the browser's to refuse (no CORS headers), and GETs change nothing."""
    with served(settings) as (client, _):
        assert client.get("/jobs", headers={"Origin": "https://evil.example",
                                            "Sec-Fetch-Site": "cross-site"}).status_code == 200


@pytest.mark.parametrize("host", ["attacker.example:8000", "attacker.example", "127.0.0.1.nip.io",
                                  "localhost.evil.example:8000", "192.168.1.5:8000", "::1"])
def test_an_open_server_refuses_a_foreign_host_dns_rebinding(
        settings: ServerSettings, host: str) -> None:
    with served(settings) as (client, _):
        client.post("/jobs", json=JOB)
        answer = client.get("/jobs", headers={"Host": host})
        assert answer.status_code == 421
        problem = answer.json()
        assert problem["code"] == "host_not_allowed" and "jobs" not in problem
        assert "DNS rebinding" in problem["detail"] and "QGJOB_ALLOWED_HOSTS" in problem["detail"]
        assert client.post("/jobs", json=JOB, headers={"Host": host}).status_code == 421


@pytest.mark.parametrize("public_dashboard", [False, True])
def test_health_and_the_api_docs_answer_any_name_they_hold_no_data(
        settings: ServerSettings, public_dashboard: bool) -> None:
    """README: `/health`, `/docs` and `/openapi.json` are open "always, to anyone"; a health
    probe or a local proxy may send its own Host."""
    with served(replace(settings, public_dashboard=public_dashboard),
                token=public_dashboard) as (client, _):
        foreign = {"Host": "probe.example:8000"}
        assert client.get("/health", headers=foreign).json()["status"] == "ok"
        assert client.get("/openapi.json", headers=foreign).json()["info"]["title"] == "qgjob"
        docs = client.get("/docs", headers=foreign)
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        [script] = [part.split('"')[1] for part in docs.text.split("src=")[1:]
                    if part.startswith('"/docs/static/')]
        assert client.get(script, headers=foreign).status_code == 200
        for method, path in [("GET", "/"), ("GET", "/static/app.js"), ("GET", "/jobs"),
                             ("GET", "/events"), ("POST", "/health")]:
            answer = client.request(method, path, headers=foreign)
            assert answer.status_code == 421, (method, path)


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "127.0.0.1", "127.9.8.7:1", "localhost:8000",
                                  "LOCALHOST.", "qgjob.localhost:8000", "[::1]:8000", "[::1]"])
def test_an_open_server_answers_to_loopback_names(settings: ServerSettings, host: str) -> None:
    with served(settings) as (client, _):
        assert client.get("/jobs", headers={"Host": host}).status_code == 200


def test_an_open_server_answers_to_the_machines_own_names(
        settings: ServerSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian and Ubuntu map the host name to 127.0.1.1, so the CLI and agents on the machine
    dial it; a rebinding site cannot choose the machine's names."""
    monkeypatch.setattr(socket, "gethostname", lambda: "DevBox")
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "devbox.corp.example")
    with served(settings) as (client, _):
        for host in ["devbox:8000", "DEVBOX", "devbox.corp.example:8000"]:
            assert client.get("/jobs", headers={"Host": host}).status_code == 200, host
        refused = client.get("/jobs", headers={"Host": "devbox.attacker.example:8000"})
        assert refused.status_code == 421
        assert "this machine's name (devbox, devbox.corp.example)" in refused.json()["detail"]


def test_the_real_host_name_is_answered(settings: ServerSettings) -> None:
    with served(settings) as (client, _):
        host = f"{socket.gethostname()}:8000"
        assert client.get("/jobs", headers={"Host": host}).status_code == 200


def test_names_in_allowed_hosts_are_answered_too(settings: ServerSettings) -> None:
    with served(replace(settings, allowed_hosts="devbox, devbox.lan")) as (client, _):
        assert client.get("/jobs", headers={"Host": "DevBox:8000"}).status_code == 200
        assert client.get("/jobs", headers={"Host": "devbox.lan"}).status_code == 200
        assert client.get("/jobs", headers={"Host": "other:8000"}).status_code == 421


def test_with_tokens_any_name_is_answered_a_rebinding_page_has_no_token(
        settings: ServerSettings) -> None:
    """A proxy on the same machine may forward its public name; a page holds no token."""
    with served(settings, token=True) as (client, auth):
        assert client.get("/jobs", headers={"Host": "qgjob.example.com"}).status_code == 401
        assert client.get("/jobs", headers={**auth, "Host": "qgjob.example.com"}
                          ).status_code == 200


def test_a_public_dashboard_refuses_a_foreign_host_even_with_tokens(
        settings: ServerSettings) -> None:
    """With QGJOB_PUBLIC_DASHBOARD anyone may read without a token, so a rebinding page
    could read every org's jobs from a server that listens only on loopback."""
    public = replace(settings, public_dashboard=True, allowed_hosts="qgjob.example.com")
    with served(public, token=True) as (client, auth):
        client.post("/jobs", json={**JOB, "org_id": "secretorg"}, headers=auth)
        for path in ["/jobs", "/timeline", "/metrics"]:
            rebound = client.get(path, headers={"Host": "attacker.example:8000"})
            assert rebound.status_code == 421, (path, rebound.text)
            assert rebound.json()["code"] == "host_not_allowed"
            assert "secretorg" not in rebound.text
        assert "without an API token" in rebound.json()["detail"]
        assert client.get("/jobs", headers={"Host": "localhost:8000"}).status_code == 200
        # A proxy on the machine that forwards its public name: list it.
        assert client.get("/jobs", headers={"Host": "qgjob.example.com"}).status_code == 200


def test_a_server_reached_beyond_loopback_answers_any_name(settings: ServerSettings) -> None:
    """Reached on another address, the server listens beyond loopback: opened to the network
    by its operator (`--insecure`), under names it cannot know."""
    with served(settings, base_url="http://10.0.0.5:8000") as (client, _):
        assert client.get("/jobs", headers={"Host": "devbox:8000"}).status_code == 200
