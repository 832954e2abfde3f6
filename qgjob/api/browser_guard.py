"""What a web page in a browser on the server's own machine must not make it do.

With no tokens (`qgjob up`'s default) the server does what anyone who reaches it asks, and
listening on loopback keeps that to the machine's own users. A browser there is such a user,
and whatever page it shows can send requests on its own:
- any page may send a "simple" request (a POST with no body, or a text/plain one) with no
  CORS preflight; it cannot read the answer, but the request acts: drain `qgjob up`'s agent
  (always `local`), cancel jobs and runs. A state-changing request (any method but GET, HEAD
  and OPTIONS) that the browser marks as coming from another origin is refused, 403
  `cross_site_request`. In every mode: with tokens a page holds none (they are sent as a
  header, never a cookie), so there it only guards a future cookie, and costs nothing.
- a page of a DNS-rebinding domain (one that turns to 127.0.0.1 once the page has loaded) is
  the server's own origin as far as the browser knows: it could read and change everything.
  While reading needs no token (no token exists, or QGJOB_PUBLIC_DASHBOARD lets anyone read),
  a request that came in on a loopback address must name a loopback host (`localhost` or a
  name under it, 127.x.x.x, [::1]), the machine's own name (its host name or fully qualified
  name: its operator chose them, no site can) or one of QGJOB_ALLOWED_HOSTS in its Host
  header, else 421 `host_not_allowed`. Once every request needs a token a rebinding page gets
  only 401s (it holds none), and a proxy on the same machine may forward any name, so then
  every name is answered; a request that came in on another address reached a server
  listening beyond loopback, which the operator opened to the network (tokens or
  `--insecure`) and which has no single name to expect. `GET /health`, `/openapi.json` and
  `/docs` hold no data and are open to anyone in every mode, so any name may read them: a
  health probe or a proxy that sends its own Host still gets its answer.
Clients that are not browsers (the CLI, agents, curl) send neither Origin nor Sec-Fetch-Site,
so the cross-site rule never refuses them. The Host rule holds for them too: they name what
they dialled, and a loopback address, `localhost` and the machine's own name pass; another
name that reaches loopback (an alias in /etc/hosts, a same-machine proxy's public name) must
be listed in QGJOB_ALLOWED_HOSTS.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from qgjob.auth.network import is_loopback_address, is_loopback_name, split_authority

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}
SHOWN_CHARS = 100
"""Of a header value quoted in an answer."""
OPEN_PATHS = frozenset({"/health", "/openapi.json", "/docs"})
"""Read under any Host: they hold no data (`/docs/static/…` are Swagger UI's files)."""
OPEN_PREFIX = "/docs/"


def cross_site_refusal(method: str, host: str | None, origin: str | None,
                       fetch_site: str | None) -> str | None:
    """Why a request is refused as a browser's cross-site one, or None to let it through.
    `Sec-Fetch-Site` is the browser's own verdict: `same-origin` passes and `cross-site`
    never does. `same-site` is another origin on the same site (another port of 127.0.0.1, a
    sibling subdomain), no safer, so it passes only with an Origin that is the request's own;
    so do other values (`none`, a navigation the user started, is no way to change things
    here) and a browser too old to send Sec-Fetch-Site. Without either header the client is
    no browser."""
    if method in SAFE_METHODS or fetch_site == "same-origin":
        return None
    if fetch_site == "cross-site":
        return f"its page is on another site (Origin {_shown(origin or 'not sent')})"
    if origin is None:
        return None if fetch_site is None else f"Sec-Fetch-Site {_shown(fetch_site)} with " \
                                               "no Origin"
    if not same_origin(origin, host):
        return f"its page is from another origin (Origin {_shown(origin)})"
    return None


def same_origin(origin: str, host: str | None) -> bool:
    """Whether an Origin (`scheme://host[:port]`) names the server the Host header does.
    The scheme is not compared: behind a TLS proxy the server sees http, and no other
    origin can be served from the same host and port."""
    scheme, separator, authority = origin.partition("://")
    default = DEFAULT_PORTS.get(scheme)
    page = split_authority(authority) if separator and default else None
    target = split_authority(host) if host is not None else None
    if page is None or target is None:
        return False  # `null` (a sandboxed frame, a file), another scheme, garbage
    return (page[0], page[1] or default) == (target[0], target[1] or default)


def _shown(value: str) -> str:
    return repr(value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS - 1] + "…")


class BrowserGuard:
    """Refuses what a page in a local browser must not do: a cross-site state change (403
    `cross_site_request`), and while reading needs no token, a foreign Host on a loopback
    connection (421 `host_not_allowed`). The app's gatekeeper says whether reads need a
    token; `own_names` are the machine's (`machine_names()`), looked up once as the app is
    built."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] = frozenset(),
                 own_names: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.own_names = own_names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        refusal = await self._foreign_host(scope, headers.get("host", []))
        if refusal is None:
            refusal = _cross_site(scope["method"], headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _foreign_host(self, scope: Scope, hosts: list[str]) -> JSONResponse | None:
        server = scope.get("server")
        if not server or not is_loopback_address(str(server[0])) or _open_to_anyone(scope):
            return None
        # No Host at all (HTTP/1.0) names no foreign site, and a browser always sends one.
        foreign = [host for host in hosts if not self._allowed(host)]
        if not foreign or not await _reads_open(scope):
            return None
        return JSONResponse({
            "detail": f"this server answers only to loopback names (localhost, 127.0.0.1, "
                      f"[::1]){self._own_names_shown()} while it can be read without an API "
                      f"token, not to Host {_shown(foreign[0])}: a web page could otherwise "
                      "reach it through DNS rebinding. Use one of those names, or list this "
                      "one in QGJOB_ALLOWED_HOSTS",
            "code": "host_not_allowed"}, status_code=421)

    def _allowed(self, host: str) -> bool:
        parsed = split_authority(host)
        return parsed is not None and (is_loopback_name(parsed[0]) or parsed[0] in self.own_names
                                       or parsed[0] in self.allowed_hosts)

    def _own_names_shown(self) -> str:
        names = sorted(name for name in self.own_names if not is_loopback_name(name))
        return f" and this machine's name ({', '.join(names)})" if names else ""


def _open_to_anyone(scope: Scope) -> bool:
    path = scope["path"]
    return scope["method"] in SAFE_METHODS and (path in OPEN_PATHS
                                                or path.startswith(OPEN_PREFIX))


def _cross_site(method: str, headers: dict[str, list[str]]) -> JSONResponse | None:
    origins = headers.get("origin", [])
    # Two Origins, or two Hosts, come from no browser: such an Origin matches nothing.
    origin = origins[0] if len(origins) == 1 else "more than one" if origins else None
    why = cross_site_refusal(method, _one(headers, "host"), origin,
                             _one(headers, "sec-fetch-site"))
    if why is None:
        return None
    return JSONResponse({
        "detail": f"refused a cross-site {method}: {why}; a web page may change something "
                  "here only from the server's own origin (the dashboard)",
        "code": "cross_site_request"}, status_code=403)


def _one(headers: dict[str, list[str]], name: str) -> str | None:
    """A header's value, None when it was not sent or sent more than once."""
    values = headers.get(name, [])
    return values[0] if len(values) == 1 else None


def _headers(scope: Scope) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return headers


async def _reads_open(scope: Scope) -> bool:
    """Whether this app answers reads without a token: none is needed at all, or the public
    dashboard lets anyone read. Until its start-up has built the gatekeeper, assume so (the
    check then applies)."""
    keeper = getattr(scope["app"].state, "gatekeeper", None)
    return keeper is None or keeper.public_dashboard \
        or not await keeper.authenticator.tokens_enforced()
