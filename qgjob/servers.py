"""A list of server replicas to talk to, in order of preference: `--server` takes one URL or
several separated by commas. A replica that fails is passed over for a while; when every one
has failed, the one that failed longest ago is tried again."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

PASS_OVER_SECONDS = 5.0


class BadServerList(ValueError):
    pass


def server_url(host: str, port: int) -> str:
    """The URL of a server listening on `host` and `port`: an IPv6 address in brackets, so
    the URL `qgjob up` prints can be given back to `--server` or `QGJOB_SERVER`."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def parse_servers(text: str) -> list[str]:
    urls = [part.strip().rstrip("/") for part in text.split(",")]
    if not any(urls):
        raise BadServerList("no server URL given")
    for url in urls:
        scheme, _, rest = url.partition("://")
        hidden = _credentials_hidden(scheme, rest)
        if hidden:
            raise BadServerList(f"{hidden!r} has credentials in it, which qgjob does not use: "
                                "pass an API token with --token or QGJOB_TOKEN")
        if scheme not in ("http", "https") or not rest:
            raise BadServerList(f"{url!r} is not an http:// or https:// URL")
        problem = _url_problem(url)
        if problem:
            raise BadServerList(f"{url!r} is not a valid URL: {problem}")
    if len(set(urls)) != len(urls):
        raise BadServerList("a server URL is listed twice")
    return urls


_BLANK_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_AUTHORITY_END = re.compile(r"[/?#]")


def _credentials_hidden(scheme: str, rest: str) -> str | None:
    """The URL with its `user:password@` shown as `***@`, or None when it has none. Checked
    first, so that no message prints a password; refused, as no request would carry it."""
    authority = _AUTHORITY_END.split(rest, maxsplit=1)[0]
    if "@" not in authority:
        return None
    return f"{scheme}://***@{rest[authority.rindex('@') + 1:]}"


def _url_problem(url: str) -> str | None:
    """What makes an http(s) URL one no request can be sent to, found now rather than as a
    crash (`http://[::1`, a port past 65535), a host that cannot be reached (`http://:80`)
    when the first request is made, or a port nobody meant (`http://farm:`)."""
    if _BLANK_OR_CONTROL.search(url):
        return "it contains a space or a control character"
    try:
        parts = urlsplit(url)
    except ValueError as error:  # an unclosed "[", or not an IPv6 address inside "[...]"
        return str(error)
    if not parts.hostname:
        return "it names no host"
    if parts.netloc.endswith(":"):  # urlsplit reads no port: it would silently be 80 or 443
        return "its port is empty (leave the ':' out for the default port)"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return f"its port {parts.netloc.rpartition(':')[2]!r} is not a number from 1 to 65535"
    return None


class ServerList:
    def __init__(self, text: str) -> None:
        self.urls = parse_servers(text)
        self._failed_at = [float("-inf")] * len(self.urls)

    def __str__(self) -> str:
        return ",".join(self.urls)

    def current(self) -> str:
        """The most preferred replica not passed over; all failed: the one that failed first."""
        now = time.monotonic()
        for url, failed_at in zip(self.urls, self._failed_at, strict=True):
            if now - failed_at >= PASS_OVER_SECONDS:
                return url
        return self.urls[self._failed_at.index(min(self._failed_at))]

    def failed(self, url: str) -> None:
        if url in self.urls:
            self._failed_at[self.urls.index(url)] = time.monotonic()

    def worked(self, url: str) -> None:
        if url in self.urls:
            self._failed_at[self.urls.index(url)] = float("-inf")
