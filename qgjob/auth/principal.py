"""The caller of a request: its role and org, and what that lets it see."""

from __future__ import annotations

from dataclasses import dataclass

from qgjob.auth.tokens import Role


@dataclass(frozen=True)
class Principal:
    role: Role
    org_id: str | None = None
    token_id: str | None = None
    """None when no token was needed (no tokens are configured)."""

    @property
    def sees_every_org(self) -> bool:
        return self.role is Role.ADMIN

    def sees_org(self, org_id: str) -> bool:
        return self.sees_every_org or org_id == self.org_id


OPEN = Principal(Role.ADMIN)
"""The caller when no tokens are configured: the server listens on loopback only, and
everyone who can reach it may do everything."""

VIEWER = Principal(Role.ADMIN)
"""A tokenless reader of a public dashboard (QGJOB_PUBLIC_DASHBOARD=true): it may read what
an admin sees, through GET requests only."""

SUBMITTERS = frozenset({Role.SUBMITTER, Role.ADMIN})
AGENTS = frozenset({Role.AGENT, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})
