"""The CLI's own HTTP client (standard library, for a fast start): list parameters, kept-alive
connections the server closed, failover between replicas, and one-line errors."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from qgjob.cli.errors import EXIT_SERVER, CliError
from qgjob.cli.http import ApiClient
from qgjob.cli.quarantine import mark_quarantined
from tests.cli.test_render import HOSTILE
from tests.conftest import LiveServer

JOB = {"org_id": "acme", "app_version_id": "v1", "test_path": "tests/a.spec.js"}


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextlib.contextmanager
def answering(answer: bytes, seen: list[bytes]) -> Iterator[str]:
    """A server on loopback that reads each request (into `seen`), sends `answer` and closes
    the connection; its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                seen.append(conn.recv(65536))
                conn.sendall(answer)
    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@pytest.fixture
def closing_server() -> Iterator[tuple[str, list[bytes]]]:
    """Answers each request with `{}` and then closes the connection without saying so
    (as a server whose keep-alive timed out would)."""
    seen: list[bytes] = []
    with answering(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 2\r\n\r\n{}", seen) as url:
        yield url, seen


def test_list_parameters_and_json(live_server: LiveServer) -> None:
    client = ApiClient(live_server.url, None)
    try:
        ids = [client.post("/jobs", JOB)["job_id"] for _ in range(2)]
        found = client.get("/jobs", {"job_id": ids, "limit": 10, "org_id": None})
        assert sorted(j["job_id"] for j in found["jobs"]) == sorted(ids)
    finally:
        client.close()


def test_a_connection_the_server_closed_is_opened_again(
        closing_server: tuple[str, list[bytes]]) -> None:
    url, seen = closing_server
    client = ApiClient(url, None)
    try:
        assert client.get("/one") == {}
        time.sleep(0.1)  # the connection sits idle and the server's close arrives
        assert client.post("/two", {"x": 1}) == {}  # noticed before sending: sent once
        assert client.get("/three") == {}
    finally:
        client.close()
    assert [request.split(b" ")[1] for request in seen] == [b"/one", b"/two", b"/three"]


def test_an_unreachable_replica_is_passed_over(live_server: LiveServer) -> None:
    client = ApiClient(f"{dead_url()},{live_server.url}", None)
    try:
        job = client.post("/jobs", JOB)  # never sent to the dead one: safe to send on
        assert client.get(f"/jobs/{job['job_id']}")["status"] == "queued"
    finally:
        client.close()


def test_nobody_there_is_one_line() -> None:
    url = dead_url()
    client = ApiClient(url, None)
    with pytest.raises(CliError) as error:
        client.get("/jobs")
    assert error.value.code == EXIT_SERVER
    assert str(error.value) == (f"cannot reach the qgjob server at {url} (connection refused); "
                                "is it running? (`qgjob up`)")


@pytest.fixture
def hostile_server() -> Iterator[str]:
    """Answers every request 500 with a `detail` full of terminal escapes (a proxy's or a
    compromised server's)."""
    body = json.dumps({"detail": HOSTILE}).encode()
    with answering(b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n"
                   b"Content-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body), []) as url:
        yield url


def test_the_servers_error_text_enters_the_cli_without_escapes(
        hostile_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    client = ApiClient(hostile_server, None)
    with pytest.raises(CliError) as raised:
        client.get("/jobs")
    assert raised.value.message.startswith("server error: ")
    assert "\x1b" not in raised.value.message and "\x07" not in raised.value.message
    assert "boom red" in raised.value.message
    # a path that prints the error itself rather than ending the command with it
    failed = {"job_id": "j1", "org_id": "acme", "test_path": "t.spec.js", "status": "failed"}
    assert mark_quarantined(client, [failed]) == [failed]
    err = capsys.readouterr().err
    assert "cannot tell which tests are quarantined: server error:" in err
    assert "\x1b" not in err and "\x9b" not in err


def rate_limiting(retry_after: bytes) -> contextlib.AbstractContextManager[str]:
    body = b'{"detail": "too many requests; try again in 1 s"}'
    return answering(b"HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\n"
                     b"Retry-After: %s\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (retry_after, len(body), body), [])


def test_a_wait_rate_limited_ends_at_its_deadline_not_a_minute_later() -> None:
    with rate_limiting(b"1") as url:
        started = time.monotonic()
        with pytest.raises(CliError) as raised:
            ApiClient(url, None).get("/jobs", retry_for=1.5)
    assert time.monotonic() - started < 5
    assert raised.value.code == EXIT_SERVER and raised.value.message.startswith("rate limited")


def test_a_retry_after_of_other_digits_is_waited_as_one_second() -> None:
    # '²' is a digit to str.isdigit() and no number to float()
    with rate_limiting("²".encode("latin-1")) as url, pytest.raises(CliError) as raised:
        ApiClient(url, None).get("/jobs", retry_for=1.5)
    assert raised.value.message.startswith("rate limited")
