"""The CLI's HTTP client. Every failure becomes a `CliError` with the contract's exit code
and one line of text: 2 for a request the server refused as invalid, 4 when the server
cannot be reached or fails."""

from __future__ import annotations

import time
from typing import Any

import httpx

from qgjob import __version__
from qgjob.cli.errors import EXIT_SERVER, EXIT_USAGE, CliError
from qgjob.nettune import NO_DELAY
from qgjob.servers import ServerList

RATE_LIMIT_PATIENCE = 60.0
"""How long a command keeps retrying requests the server refused with 429."""


class ApiClient:
    def __init__(self, server: str, token: str | None, timeout: float = 15.0) -> None:
        headers = {"User-Agent": f"qgjob-cli/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.servers = ServerList(server)
        self.server = str(self.servers)
        self._http = httpx.Client(headers=headers, timeout=timeout,
                                  transport=httpx.HTTPTransport(socket_options=NO_DELAY))

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, params: Any = None, *, retry_for: float = 0.0) -> Any:
        return self._request("GET", path, params=params, retry_for=retry_for)

    def post(self, path: str, body: Any = None) -> Any:
        return self._request("POST", path, json=body)

    def get_text(self, path: str, params: Any = None) -> tuple[str, dict[str, str]]:
        """A text/plain resource (such as a job's log) and its headers, lower-cased."""
        response = self._send("GET", path, params=params, retry_for=30.0)
        if not response.is_success:
            raise _error(response, _json(response))
        return response.text, {k.lower(): v for k, v in response.headers.items()}

    def _request(self, method: str, path: str, *, retry_for: float = 0.0, **kwargs: Any) -> Any:
        return _decode(self._send(method, path, retry_for=retry_for, **kwargs))

    def _send(self, method: str, path: str, *, retry_for: float = 0.0,
              **kwargs: Any) -> httpx.Response:
        """Send once; for reads, `retry_for` seconds of patience while the server is down
        (e.g. restarting under a CI job that waits on it). With several replicas, a request
        that cannot reach one goes to the next at once (a read whatever went wrong; a write
        only if it was never sent, so it cannot happen twice)."""
        deadline = time.monotonic() + retry_for
        limited_until = time.monotonic() + RATE_LIMIT_PATIENCE
        delay = 0.5
        tried: set[str] = set()
        while True:
            server = self.servers.current()
            try:
                response = self._http.request(method, server + path, **kwargs)
            except httpx.HTTPError as exc:
                self.servers.failed(server)
                tried.add(server)
                unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if (method == "GET" or unsent) and len(tried) < len(self.servers.urls):
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
            pause = _rate_limited_pause(response)
            if pause is not None and time.monotonic() + pause < limited_until:
                time.sleep(pause)  # refused before it was handled: sending again is safe
                continue
            return response


def _decode(response: httpx.Response) -> Any:
    if response.status_code == 204:
        return None
    data = _json(response)
    if response.is_success:
        return data
    raise _error(response, data)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _rate_limited_pause(response: httpx.Response) -> float | None:
    if response.status_code != 429:
        return None
    raw = response.headers.get("retry-after", "1")
    return min(float(raw), 10.0) if raw.isdigit() else 1.0


def _error(response: httpx.Response, data: Any) -> CliError:
    detail = data.get("detail") if isinstance(data, dict) else None
    message = str(detail) if detail else f"HTTP {response.status_code}"
    if response.status_code == 401:
        message += " (set --token or QGJOB_TOKEN)"
    if response.status_code == 429:
        return CliError(EXIT_SERVER, f"rate limited: {message}")
    if response.status_code >= 500:
        return CliError(EXIT_SERVER, f"server error: {message}")
    return CliError(EXIT_USAGE, message, status=response.status_code)


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return type(exc).__name__
