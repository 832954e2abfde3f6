"""Who is calling: bearer tokens resolved against the store (cached briefly), roles checked,
and per-caller rate limits. Answers 401 (with `WWW-Authenticate: Bearer`), 403 or 429 (with
`Retry-After`); never echoes a token."""

from __future__ import annotations

import hmac
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated

from anyio import to_thread
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qgjob.auth import tokens
from qgjob.auth.principal import ADMINS, OPEN, VIEWER, Principal
from qgjob.auth.ratelimit import RateLimiter
from qgjob.auth.tokens import ApiToken, Role
from qgjob.settings import ServerSettings
from qgjob.store.base import TokenStore

_CACHE_MAX = 10_000
_TOUCH_EVERY_SECONDS = 60.0
_UNAUTHORIZED = "missing, unknown or revoked API token (send `Authorization: Bearer <token>`)"

bearer = HTTPBearer(auto_error=False, description="An API token from `qgjob token create`.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class Unauthorized(Exception):
    pass


@dataclass
class Authenticator:
    """Resolves a presented token to a Principal. Lookups are cached for `cache_seconds`, so
    a token created or revoked with `qgjob token` takes effect within that time."""

    store: TokenStore
    clock: Callable[[], float]
    cache_seconds: float = 2.0
    open_without_tokens: bool = True
    process_tokens: Mapping[str, Principal] = field(default_factory=dict)
    """Tokens that live only in this process's memory (the local agent of `qgjob up`)."""
    _records: dict[str, tuple[float, ApiToken | None]] = field(default_factory=dict)
    _active: tuple[float, int] | None = None
    _touched: dict[str, float] = field(default_factory=dict)

    async def principal(self, presented: str | None) -> Principal:
        """The caller; raises Unauthorized when a token is needed and this one is not good."""
        if presented is not None:
            for secret, principal in self.process_tokens.items():
                if hmac.compare_digest(secret.encode(), presented.encode()):
                    return principal
        if await self._active_tokens() == 0:
            if self.open_without_tokens:
                return OPEN
            raise Unauthorized(_UNAUTHORIZED)
        parsed = tokens.parse(presented) if presented else None
        record = await self._record(parsed.token_id) if parsed else None
        if parsed is None or record is None or not record.active \
                or not tokens.matches(record, parsed):
            raise Unauthorized(_UNAUTHORIZED)
        await self._touch(record)
        return Principal(record.role, record.org_id, record.token_id)

    async def tokens_enforced(self) -> bool:
        """Whether a request needs a token (beyond this process's own): some exist, or the
        server never opens without them."""
        return not self.open_without_tokens or await self._active_tokens() > 0

    async def _active_tokens(self) -> int:
        now = self.clock()
        if self._active is None or now - self._active[0] >= self.cache_seconds:
            self._active = (now, await to_thread.run_sync(self.store.count_active_tokens))
        return self._active[1]

    async def _record(self, token_id: str) -> ApiToken | None:
        now = self.clock()
        cached = self._records.get(token_id)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        record = await to_thread.run_sync(self.store.get_token, token_id)
        if len(self._records) >= _CACHE_MAX:
            self._records.clear()
        self._records[token_id] = (now, record)
        return record

    async def _touch(self, record: ApiToken) -> None:
        """Keep `last_used_at` roughly current without a write per request."""
        now = self.clock()
        if now - self._touched.get(record.token_id, -math.inf) < _TOUCH_EVERY_SECONDS:
            return
        if len(self._touched) >= _CACHE_MAX:
            self._touched.clear()
        self._touched[record.token_id] = now
        await to_thread.run_sync(self.store.touch_token, record.token_id, now)


@dataclass
class Gatekeeper:
    """Everything the access dependencies need, built once per app."""

    authenticator: Authenticator
    limits: dict[str, RateLimiter]
    clock: Callable[[], float]
    public_dashboard: bool = False

    @classmethod
    def of(cls, settings: ServerSettings, store: TokenStore, clock: Callable[[], float],
           process_tokens: Mapping[str, Principal]) -> Gatekeeper:
        authenticator = Authenticator(store, clock, settings.token_cache_seconds,
                                      settings.open_without_tokens, process_tokens)
        limits = {
            "api": RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
            "agent": RateLimiter(settings.agent_rate_limit_per_second,
                                 settings.agent_rate_limit_burst),
            "jobs": RateLimiter(settings.job_rate_limit_per_second,
                                settings.job_rate_limit_burst),
        }
        return cls(authenticator, limits, clock, settings.public_dashboard)

    def limit(self, budget: str, key: str, cost: float = 1.0) -> None:
        wait = self.limits[budget].take(key, self.clock(), cost)
        if wait > 0:
            what = "jobs submitted (a batch counts each)" if budget == "jobs" else "requests"
            raise HTTPException(429, f"too many {what}; try again in {math.ceil(wait)} s",
                                headers={"Retry-After": str(math.ceil(wait))})

    def spend_jobs(self, request: Request, caller: Principal, jobs: int) -> None:
        """A submission's jobs, from its caller's jobs budget: a batch is one request but
        up to 1,000 jobs."""
        self.limit("jobs", caller_key(request, caller), jobs)

    async def admit(self, request: Request, credentials: HTTPAuthorizationCredentials | None,
                    roles: frozenset[Role], budget: str) -> Principal:
        presented = credentials.credentials if credentials else None
        client = client_key(request)
        try:
            principal = await self.authenticator.principal(presented)
        except Unauthorized as refused:
            self.limit(budget, client)
            raise HTTPException(401, str(refused),
                                headers={"WWW-Authenticate": "Bearer"}) from None
        self.limit(budget, caller_key(request, principal))
        if principal.role not in roles:
            raise HTTPException(403, f"{_article(principal.role.value)} {principal.role.value} "
                                     f"token may not use "
                                     f"{request.method} {request.url.path}")
        return principal


def _article(word: str) -> str:
    """'an agent token', 'a submitter token'."""
    return "an" if word[0] in "aeiou" else "a"


def gatekeeper(request: Request) -> Gatekeeper:
    keeper: Gatekeeper = request.app.state.gatekeeper
    return keeper


def require(roles: frozenset[Role], budget: str = "api"
            ) -> Callable[[Request, Credentials], Awaitable[Principal]]:
    """A dependency that admits callers whose role is in `roles`, within `budget`'s rate."""

    async def admitted(request: Request, credentials: Credentials) -> Principal:
        keeper = gatekeeper(request)
        if (credentials is None and keeper.public_dashboard and Role.SUBMITTER in roles
                and request.method in ("GET", "HEAD")):
            # A public dashboard: reading (what the dashboard shows) needs no token;
            # changing anything still does.
            keeper.limit(budget, client_key(request))
            return VIEWER
        return await keeper.admit(request, credentials, roles, budget)

    return admitted


async def dashboard_reader(request: Request, credentials: Credentials) -> Principal | None:
    """Views of every org's work (`/metrics`, `/timeline`): open when the public-dashboard
    setting says so, else admins."""
    keeper = gatekeeper(request)
    if keeper.public_dashboard:
        keeper.limit("api", client_key(request))
        return None
    return await keeper.admit(request, credentials, ADMINS, "api")


def reads_every_org(request: Request, caller: Principal) -> bool:
    """Whether `dashboard_reader` lets this caller in (`GET /devices` says so as
    `may_read_all`): every caller on a public dashboard, else an admin (everyone while no
    token exists, `OPEN` being one)."""
    return gatekeeper(request).public_dashboard or caller.role in ADMINS


def caller_key(request: Request, principal: Principal) -> str:
    """Whose rate budget a request spends: its token's, or without one its peer address's."""
    return f"token:{principal.token_id}" if principal.token_id else client_key(request)


def client_key(request: Request) -> str:
    """Whom an unauthenticated request's rate budget belongs to: its peer address (the
    client a trusted proxy names, with QGJOB_TRUSTED_PROXIES; no one else is believed)."""
    return f"ip:{request.client.host if request.client else 'unknown'}"
