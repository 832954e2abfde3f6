"""Connections that never become requests, against a real `qgjob server` on loopback: idle
sockets and slowloris clients are closed on time while /health keeps answering, a cap
refuses connections early, and the log says so once, not per connection."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qgjob.api.http_guard import RESERVED_DESCRIPTORS
from tests.e2e.processes import Process, free_port, wait_healthy

pytestmark = pytest.mark.e2e


@contextlib.contextmanager
def server(tmp_path: Path, prefix: tuple[str, ...] = (), **env: str
           ) -> Iterator[tuple[Process, str]]:
    """A real `qgjob server`; `env` sets its settings (`http_idle_seconds="2"`…)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = Process("server", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'h.db'}",
                      log=tmp_path / "server.log", prefix=prefix,
                      env={f"QGJOB_{name.upper()}": value for name, value in env.items()})
    try:
        wait_healthy(url, process)
        yield process, url
    finally:
        process.stop()


@contextlib.contextmanager
def connections(url: str, count: int) -> Iterator[list[socket.socket]]:
    """`count` client connections that send nothing (closed on leaving)."""
    port = int(url.rsplit(":", 1)[1])
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed it (whatever it wrote first); never waits."""
    sock.setblocking(False)
    try:
        while sock.recv(4096):
            pass
        return True
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def closed_count(sockets: list[socket.socket], within: float) -> int:
    """How many of `sockets` the server has closed, waiting up to `within` seconds for all
    of them (a busy machine may be a little late; never early)."""
    deadline = time.monotonic() + within
    while True:
        closed = sum(closed_by_server(s) for s in sockets)
        if closed == len(sockets) or time.monotonic() > deadline:
            return closed
        time.sleep(0.1)


def health_seconds(url: str) -> float:
    began = time.monotonic()
    response = httpx.get(f"{url}/health", timeout=5)
    assert response.status_code == 200, response.text
    return time.monotonic() - began


def health_once_freed(url: str, sockets: list[socket.socket]) -> float:
    """Close `sockets`, then time /health."""
    for sock in sockets:
        sock.close()
    time.sleep(0.3)
    return health_seconds(url)


@contextlib.contextmanager
def slowloris(url: str, count: int) -> Iterator[list[socket.socket]]:
    """Clients that begin a request and then send a header byte every 0.2 s, for ever."""
    stop = threading.Event()

    def drip(sockets: list[socket.socket]) -> None:
        while not stop.wait(0.2):
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.send(b"X")

    with connections(url, count) as sockets:
        for sock in sockets:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        dripping = threading.Thread(target=drip, args=(sockets,), daemon=True)
        dripping.start()
        try:
            yield sockets
        finally:
            stop.set()
            dripping.join()


def test_idle_and_slow_connections_are_closed_and_health_answers(tmp_path: Path) -> None:
    with server(tmp_path, http_idle_seconds="3", http_header_seconds="2") as (process, url), \
            connections(url, 2000) as idle, slowloris(url, 100) as slow:
        opened = time.monotonic()
        assert max(health_seconds(url) for _ in range(5)) < 2
        assert not any(closed_by_server(s) for s in idle[-50:])  # not before their time
        time.sleep(max(0.0, opened + 3.5 - time.monotonic()))  # past both timeouts
        assert closed_count(idle, within=5) == len(idle)
        assert closed_count(slow, within=1) == len(slow)  # though still dripping
        assert health_seconds(url) < 2
    assert "out of system resource" not in process.output()


def test_a_slow_request_head_is_answered_408(tmp_path: Path) -> None:
    with server(tmp_path, http_header_seconds="1") as (_, url), \
            connections(url, 1) as [sock]:
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        began = time.monotonic()
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert 0.8 < time.monotonic() - began < 3


def test_a_request_body_that_stalls_is_answered_408(tmp_path: Path) -> None:
    """A body that stops halfway (a Content-Length it never reaches) is cut off once no byte
    came for `http_body_seconds`, while a slow body that keeps coming is not."""
    body = b'{"org_id": "acme", "app_version_id": "v1", "test_path": "tests/a.spec.js"}'
    head = (b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n" % len(body))
    with server(tmp_path, http_body_seconds="1") as (_, url), \
            connections(url, 2) as [stalled, slow]:
        answered: list[float] = []

        def await_answer() -> None:
            stalled.settimeout(6)
            if stalled.recv(4096).startswith(b"HTTP/1.1 408 "):
                answered.append(time.monotonic())

        stalled.sendall(head + body[:20])
        began = time.monotonic()
        waiting = threading.Thread(target=await_answer, daemon=True)
        waiting.start()
        slow.sendall(head)
        for at in range(0, len(body), 16):  # a piece every 0.5 s: 2.5 s in all
            slow.sendall(body[at:at + 16])
            time.sleep(0.5)
        assert slow.recv(4096).startswith(b"HTTP/1.1 201 ")
        waiting.join(timeout=8)
        assert answered, "the stalled body was not answered 408"
        assert 0.8 < answered[0] - began < 2.5  # cut off on its own stall, not the other's


def test_keep_alive_clients_are_not_cut_off(tmp_path: Path) -> None:
    """Idle and head timeouts do not touch a client that makes requests in time."""
    with server(tmp_path, http_idle_seconds="1", http_header_seconds="1") as (_, url), \
            httpx.Client(base_url=url, timeout=5) as client:
        for _ in range(4):
            assert client.get("/health").status_code == 200
            time.sleep(0.5)
        submitted = client.post("/jobs", json={"org_id": "acme", "app_version_id": "v1",
                                               "test_path": "tests/a.spec.js"})
        assert submitted.status_code == 201


def test_connections_over_the_cap_are_refused_at_once_and_said_once(tmp_path: Path) -> None:
    with server(tmp_path, max_connections="50", http_idle_seconds="30") as (process, url), \
            connections(url, 50) as held:
        time.sleep(0.3)  # let the server accept them all
        with connections(url, 100) as extra:
            refused = [sock.recv(4096) for sock in extra]
        assert all(r.startswith(b"HTTP/1.1 503 ") for r in refused)
        assert b"retry-after: 1" in refused[0]
        assert health_once_freed(url, held[:10]) < 2
    log = process.output()
    assert log.count("refused a connection") == 1, log


def test_the_cap_stays_below_the_descriptor_limit(tmp_path: Path) -> None:
    """At systemd's default of 1,024 descriptors the cap is lowered to fit, so a flood is
    refused with a 503 instead of accept() failing for everyone."""
    cap = 1024 - RESERVED_DESCRIPTORS
    with server(tmp_path, prefix=("prlimit", "--nofile=1024:1024"),
                http_idle_seconds="30") as (process, url), \
            connections(url, cap + 300) as flood:
        assert closed_count(flood[cap:], within=5) == 300  # beyond the cap: refused
        assert closed_count(flood[:cap], within=0.5) == 0  # the rest kept
        assert health_once_freed(url, flood) < 2
    log = process.output()
    assert f"the descriptor limit allows {cap} connections" in log
    assert "out of system resource" not in log and "cannot accept" not in log


def test_an_evidence_upload_cut_short_is_said_in_one_line(tmp_path: Path) -> None:
    """An artifact body that stops before its Content-Length, whether the client hangs up or
    the server gives up on it (408), is no server error: no traceback, no file kept."""
    with server(tmp_path, http_body_seconds="1",
                artifact_dir=str(tmp_path / "artifacts")) as (process, url), \
            httpx.Client(base_url=url, timeout=5) as client:
        job_id = client.post("/jobs", json={"org_id": "acme", "app_version_id": "v1",
                                            "test_path": "tests/a.spec.js"}).json()["job_id"]
        agent = client.post("/agents", json={
            "name": "lab", "executor": "simulate",
            "devices": [{"name": "emulator-1", "target": "emulator"}]}).json()["agent"]
        lease = client.post(f"/agents/{agent['agent_id']}/claim", json={
            "device": "emulator-1", "target": "emulator", "wait_seconds": 0}).json()["lease_id"]
        client.post(f"/agents/{agent['agent_id']}/jobs/{job_id}/start",
                    json={"lease_id": lease})
        head = (f"PUT /agents/{agent['agent_id']}/jobs/{job_id}/artifacts/f.png"
                f"?lease_id={lease}&attempt=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "content-type: application/octet-stream\r\ncontent-length: 1000\r\n\r\n")
        with connections(url, 2) as [hung_up, stalled]:
            hung_up.sendall(head.encode() + b"abc")
            stalled.sendall(head.encode() + b"abc")
            time.sleep(0.3)
            hung_up.close()
            stalled.settimeout(6)
            assert stalled.recv(4096).startswith(b"HTTP/1.1 408 ")
        time.sleep(0.3)
        assert client.get(f"/jobs/{job_id}/artifacts").json()["attempts"] == []
    log = process.output()
    assert "Traceback" not in log and "Exception in ASGI" not in log, log
    assert log.count("f.png") <= 2, log
    assert not [p for p in (tmp_path / "artifacts").rglob("*") if p.is_file()]
