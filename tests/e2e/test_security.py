"""Tokens end to end with real processes: made with `qgjob token`, used by the CLI and an
agent, never written to a log; and the loopback-only default."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.processes import Process, cli, free_port, wait_healthy

pytestmark = pytest.mark.e2e


def qgjob(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    global_args = ["--token", token] if token else []
    return subprocess.run([sys.executable, "-m", "qgjob", *global_args, *args],
                          capture_output=True, text=True, timeout=60)


def create_token(db: Path, *args: str) -> str:
    made = qgjob("token", "create", "--db", f"sqlite:///{db}", *args)
    assert made.returncode == 0, made.stderr
    [token] = made.stdout.split()
    assert made.stdout == token + "\n"
    return token


def test_tokens_from_the_cli_to_the_agent_and_never_in_the_logs(tmp_path: Path) -> None:
    db = tmp_path / "sec.db"
    admin = create_token(db, "--role", "admin")
    agent_token = create_token(db, "--role", "agent")
    acme = create_token(db, "--role", "submitter", "--org-id", "acme")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Process("server", "--port", str(port), "--db", f"sqlite:///{db}", "--access-log",
                     log=tmp_path / "server.log")
    agent = None
    try:
        wait_healthy(url, server)
        agent = Process("--server", url, "--token", agent_token, "agent", "--name", "lab",
                        "--devices", "emulator:1", "--install-seconds", "0.1",
                        "--test-seconds", "0.1", log=tmp_path / "agent.log")
        done = cli(url, "--token", acme, "submit", "--org-id=acme", "--app-version-id=bs://ab12",
                   "--test=tests/a.spec.js", "--wait", "--timeout=60")
        assert done.returncode == 0, done.stderr + agent.output()
        refused = cli(url, "status", "--job-id", done.stdout.split()[0])
        assert refused.returncode == 2 and "QGJOB_TOKEN" in refused.stderr
        other_org = cli(url, "--token", acme, "submit", "--org-id=globex",
                        "--app-version-id=x", "--test=tests/a.spec.js")
        assert other_org.returncode == 2 and "org 'acme' only" in other_org.stderr
        assert cli(url, "--token", admin, "jobs", "--json").returncode == 0
        assert cli(url, "--token", admin + "x", "jobs").returncode == 2
    finally:
        if agent is not None:
            agent.stop()
        server.stop()
    logs = server.output() + (agent.output() if agent else "")
    assert "GET /jobs" in logs  # the access log was on
    for token in (admin, agent_token, acme):
        assert token.split("_", 2)[2] not in logs
    listed = qgjob("token", "list", "--db", f"sqlite:///{db}", "--json")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 3
    assert all(t.split("_", 2)[2] not in listed.stdout for t in (admin, agent_token, acme))


def test_qgjob_up_runs_its_local_agent_when_tokens_exist(tmp_path: Path) -> None:
    db = tmp_path / "up.db"
    acme = create_token(db, "--role", "submitter", "--org-id", "acme")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    up = Process("up", "--port", str(port), "--db", f"sqlite:///{db}", "--devices",
                 "emulator:1", "--install-seconds", "0.1", "--test-seconds", "0.1",
                 log=tmp_path / "up.log")
    try:
        wait_healthy(url, up)
        done = cli(url, "--token", acme, "submit", "--org-id=acme", "--app-version-id=x1",
                   "--test=tests/a.spec.js", "--wait", "--timeout=60")
        assert done.returncode == 0, done.stderr + up.output()
    finally:
        assert up.stop(signal.SIGINT) == 0, up.output()


@pytest.mark.parametrize("command", ["server", "up"])
def test_no_network_bind_without_tokens(tmp_path: Path, command: str) -> None:
    refused = qgjob(command, "--host", "0.0.0.0", "--port", str(free_port()),
                    "--db", f"sqlite:///{tmp_path / 'open.db'}")
    assert refused.returncode == 2
    [line] = refused.stderr.splitlines()
    assert "--insecure" in line and "qgjob token create" in line


def test_qgjob_up_refuses_what_a_page_in_a_local_browser_sends(tmp_path: Path) -> None:
    """Open mode trusts whoever reaches loopback, and a browser on the machine does: a page
    of another site must not drain `up`'s agent, nor one of a rebinding name read jobs."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    up = Process("up", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'up.db'}",
                 "--devices", "emulator:1", log=tmp_path / "up.log")

    def send(method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request(method, path, headers=headers)
            answer = connection.getresponse()
            return answer.status, json.loads(answer.read())
        finally:
            connection.close()

    def agents() -> list[dict[str, object]]:
        status, answer = send("GET", "/agents", {})
        assert status == 200
        return answer["agents"]  # type: ignore[return-value]

    try:
        wait_healthy(url, up)
        deadline = time.monotonic() + 30  # `up`'s agent registers after the server answers
        while not agents() and time.monotonic() < deadline:
            time.sleep(0.1)
        drained = send("POST", "/agents/local/drain", {"Origin": "https://evil.example",
                                                       "Content-Type": "text/plain"})
        assert drained[0] == 403 and drained[1]["code"] == "cross_site_request"
        rebound = send("GET", "/jobs", {"Host": f"attacker.example:{port}"})
        assert rebound[0] == 421 and rebound[1]["code"] == "host_not_allowed"
        assert [agent["draining"] for agent in agents()] == [False]
        assert send("GET", "/jobs", {"Host": f"localhost:{port}"})[0] == 200
    finally:
        assert up.stop(signal.SIGINT) == 0, up.output()


def _reaches_127_0_0_1(name: str) -> bool:
    try:
        return "127.0.0.1" in {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
    except OSError:
        return False


@pytest.mark.skipif(not _reaches_127_0_0_1(socket.gethostname()),
                    reason="this machine's name does not reach a server on 127.0.0.1")
def test_the_cli_may_dial_an_open_server_by_the_machines_own_name(tmp_path: Path) -> None:
    """Debian and Ubuntu map the host name to loopback, so `--server http://$(hostname):PORT`
    is a common spelling; the Host rule must not refuse it (it did, 421 and exit 2)."""
    port = free_port()
    server = Process("server", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'h.db'}",
                     log=tmp_path / "server.log")
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        listed = cli(f"http://{socket.gethostname()}:{port}", "jobs", "--json")
        assert listed.returncode == 0, listed.stderr
    finally:
        server.stop()
