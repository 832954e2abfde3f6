"""The CLI's HTTP client. Every failure becomes a `CliError` with the contract's exit code
and one line of text: 2 for a request the server refused as invalid, 4 when the server
cannot be reached or fails. It uses the standard library's `http.client` (one kept-alive
connection per server): importing a full HTTP library would cost every command a tenth of a
second of start-up."""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from qgjob import __version__
from qgjob.cli.errors import EXIT_SERVER, EXIT_USAGE, CliError
from qgjob.cli.safe_text import plain
from qgjob.servers import ServerList

RATE_LIMIT_PATIENCE = 60.0
"""How long a command keeps retrying requests the server refused with 429."""


@dataclass
class Response:
    status_code: int
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Unsent(OSError):
    """The connection could not be made: the request never left (safe to send elsewhere)."""


class ApiClient:
    def __init__(self, server: str, token: str | None, timeout: float = 15.0) -> None:
        self._headers = {"User-Agent": f"qgjob-cli/{__version__}",
                         "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.servers = ServerList(server)
        self.server = str(self.servers)
        self._timeout = timeout
        self._connections: dict[str, http.client.HTTPConnection] = {}
        self._known: dict[str, bool] = {}
        """Servers whose `/health` was asked after a 404, and whether they are qgjob's."""

    def fork(self) -> ApiClient:
        """Another client for the same servers and credentials, with connections of its own
        (a client is not shared between threads)."""
        twin = ApiClient.__new__(ApiClient)
        twin._headers, twin.servers, twin.server = self._headers, self.servers, self.server
        twin._timeout, twin._connections, twin._known = self._timeout, {}, self._known
        return twin

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def get(self, path: str, params: Any = None, *, retry_for: float = 0.0) -> Any:
        return self._request("GET", path, params=params, retry_for=retry_for)

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self._request("POST", path, body=body, headers=headers)

    def delete(self, path: str, params: Any = None) -> Any:
        return self._request("DELETE", path, params=params)

    def get_text(self, path: str, params: Any = None, *, retry_for: float = 0.0
                 ) -> tuple[str, dict[str, str]]:
        """A text/plain resource (such as a job's log) and its headers, lower-cased."""
        response = self._send("GET", path, params=params, retry_for=retry_for)
        if not response.is_success:
            raise _error(response, _json(response))
        return response.text, response.headers

    def _request(self, method: str, path: str, *, retry_for: float = 0.0, **kwargs: Any) -> Any:
        return _decode(self._send(method, path, retry_for=retry_for, **kwargs))

    def _send(self, method: str, path: str, *, retry_for: float = 0.0,
              params: Any = None, body: Any = None,
              headers: dict[str, str] | None = None) -> Response:
        """Send once; for reads, `retry_for` seconds of patience while the server is down
        (e.g. restarting under a CI job that waits on it). With several replicas, a request
        that cannot reach one goes to the next at once (a read whatever went wrong; a write
        only if it was never sent, so it cannot happen twice). Patience is a promise: each try
        waits at most what is left of it (or the client's timeout, when there is none)."""
        deadline = time.monotonic() + retry_for
        # A read with patience has a deadline (a wait's --timeout): 429s end at it too.
        limited_until = time.monotonic() + (min(retry_for, RATE_LIMIT_PATIENCE)
                                            if retry_for > 0 else RATE_LIMIT_PATIENCE)
        delay = 0.5
        tried: set[str] = set()
        if params:
            path += "?" + urlencode(
                {k: v for k, v in params.items() if v is not None}, doseq=True)
        while True:
            server = self.servers.current()
            left = deadline - time.monotonic()
            timeout = self._timeout if retry_for <= 0 else min(self._timeout, max(left, 0.5))
            try:
                response = self._exchange(server, method, path, body, headers, timeout)
            except (OSError, http.client.HTTPException) as exc:
                self.servers.failed(server)
                tried.add(server)
                if (method == "GET" or isinstance(exc, Unsent)) \
                        and len(tried) < len(self.servers.urls):
                    continue
                if time.monotonic() + delay < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                raise CliError(
                    EXIT_SERVER,
                    f"cannot reach the qgjob server at {server} ({_reason(exc)}); "
                    "is it running? (`qgjob up`)",
                ) from None
            if response.status_code >= 500 and time.monotonic() + delay < deadline:
                time.sleep(delay)
                continue
            if response.status_code == 404 and not self._is_qgjob(server, timeout):
                raise CliError(EXIT_SERVER, _not_qgjob(server, method, path))
            pause = _rate_limited_pause(response)
            if pause is not None and time.monotonic() + pause < limited_until:
                time.sleep(pause)  # refused before it was handled: sending again is safe
                continue
            return response

    def _exchange(self, server: str, method: str, path: str, body: Any,
                  extra: dict[str, str] | None, timeout: float) -> Response:
        """One request on the server's kept-alive connection. A connection the server has
        closed meanwhile is noticed before sending (its socket reads as ready) and opened
        again; a read that still meets a closed connection is sent once more, a write never."""
        connection = self._connections.get(server)
        if connection is not None and _closed_by_peer(connection):
            connection.close()
            connection = None
        fresh = connection is None
        if connection is None:
            connection = self._connect(server, timeout)
        elif connection.sock is not None:
            connection.sock.settimeout(timeout)
        payload = None if body is None else _dumps(body)
        headers = {**self._headers, **(extra or {})}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        base = urlsplit(server).path.rstrip("/")
        try:
            connection.request(method, base + path, body=payload, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            self._drop(server)
            if fresh or method != "GET":
                raise
            return self._exchange(server, method, path, body, extra, timeout)
        except BaseException:
            self._drop(server)
            raise
        if answer.will_close:
            self._drop(server)
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)

    def _is_qgjob(self, server: str, timeout: float) -> bool:
        """Whether `server` answers `/health` as a qgjob server does: a 404 from anything else
        means the address is wrong, not that a job is unknown."""
        if server not in self._known:
            try:
                health = self._exchange(server, "GET", "/health", None, None, timeout)
                data = _json(health)
            except (OSError, http.client.HTTPException):
                return True  # cannot tell: let the 404 speak for itself
            self._known[server] = health.is_success and isinstance(data, dict) \
                and "schema_version" in data
        return self._known[server]

    def _drop(self, server: str) -> None:
        connection = self._connections.pop(server, None)
        if connection is not None:
            connection.close()

    def _connect(self, server: str, timeout: float) -> http.client.HTTPConnection:
        parts = urlsplit(server)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else \
            http.client.HTTPConnection
        connection = kind(parts.hostname or "localhost", parts.port, timeout=timeout)
        try:
            connection.connect()
        except OSError as exc:
            connection.close()
            raise Unsent(exc.errno, _reason(exc)) from exc
        if connection.sock is not None:
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._connections[server] = connection
        return connection


def _closed_by_peer(connection: http.client.HTTPConnection) -> bool:
    """An idle kept-alive socket that reads as ready has been closed by the server."""
    sock = connection.sock
    if sock is None:
        return True
    ready, _, _ = select.select([sock], [], [], 0)
    return bool(ready)


def _dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _decode(response: Response) -> Any:
    if response.status_code == 204:
        return None
    data = _json(response)
    if response.is_success:
        return data
    raise _error(response, data)


def _json(response: Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _not_qgjob(server: str, method: str, path: str) -> str:
    parts = urlsplit(server)
    root = f"{parts.scheme}://{parts.netloc}"
    hint = f" Perhaps {root}?" if parts.path.strip("/") else ""
    return (f"{method} {server.rstrip('/')}{path.split('?')[0]} answered 404 Not Found: no "
            f"qgjob server at {server}; is --server (or QGJOB_SERVER) the right address?{hint}")


_SECONDS = re.compile(r"[0-9]{1,9}")


def _rate_limited_pause(response: Response) -> float | None:
    if response.status_code != 429:
        return None
    raw = response.headers.get("retry-after", "1")
    # Digits only: str.isdigit() also takes '²', which float() refuses.
    return min(float(raw), 10.0) if _SECONDS.fullmatch(raw) else 1.0


def _error(response: Response, data: Any) -> CliError:
    detail = data.get("detail") if isinstance(data, dict) else None
    # The server's text, and on the way a proxy's: dropping escapes here covers every path
    # that prints an error, not only `main`'s last line.
    message = plain(str(detail)) if detail else f"HTTP {response.status_code}"
    if response.status_code == 401:
        message += " (set --token or QGJOB_TOKEN)"
    if response.status_code == 429:
        return CliError(EXIT_SERVER, f"rate limited: {message}")
    if response.status_code >= 500:
        return CliError(EXIT_SERVER, f"server error: {message}")
    return CliError(EXIT_USAGE, message, status=response.status_code)


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ if isinstance(exc, Unsent) and exc.__cause__ else exc
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(cause, socket.gaierror):
        return "unknown host"
    return type(cause).__name__
