"""API tokens: how they are made, written and checked. Pure: no I/O, time is a parameter.

A token reads `qgj_<id>_<secret>`: the id is public (it names the token in `qgjob token list`
and in the store), the secret is 32 random bytes in base64url. Only the secret's SHA-256 is
stored, so a copy of the database does not give anyone a working token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "qgj_"
TOKEN_MAX = 128
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_ID_LENGTH = 12
_TOKEN = re.compile(rf"{PREFIX}([{_ID_ALPHABET}]{{{_ID_LENGTH}}})_([A-Za-z0-9_-]{{43}})")


class Role(StrEnum):
    SUBMITTER = "submitter"
    """Submits, reads and cancels the jobs of its own org."""
    AGENT = "agent"
    """Speaks the agent protocol (register, claim, report…) and nothing else."""
    ADMIN = "admin"
    """Everything, for every org."""


@dataclass(frozen=True)
class ApiToken:
    """A token as the store keeps it: never the secret, only its hash."""

    token_id: str
    org_id: str | None
    """The org a submitter acts for; for agent and admin tokens only a label."""
    role: Role
    secret_sha256: str
    created_at: float
    last_used_at: float | None = None
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Presented:
    """A token as a client presented it, split into its parts."""

    token_id: str
    secret: str


def issue(role: Role, org_id: str | None, now: float) -> tuple[ApiToken, str]:
    """A new token: what the store keeps, and the text shown to the user once."""
    token_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
    record = ApiToken(token_id, org_id, role, secret_digest(secret), now)
    return record, f"{PREFIX}{token_id}_{secret}"


def parse(text: str) -> Presented | None:
    """The parts of a well-formed token, or None."""
    match = _TOKEN.fullmatch(text) if len(text) <= TOKEN_MAX else None
    return Presented(match.group(1), match.group(2)) if match else None


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def matches(record: ApiToken, presented: Presented) -> bool:
    """Constant-time comparison of the presented secret with the stored hash."""
    return hmac.compare_digest(record.secret_sha256, secret_digest(presented.secret))
