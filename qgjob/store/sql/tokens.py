"""API tokens and agent-session ownership. Functions run inside the caller's
transaction."""

from __future__ import annotations

from qgjob.auth.tokens import ApiToken, Role
from qgjob.store.base import AgentOwner
from qgjob.store.rows import Row
from qgjob.store.sql.database import Tx


def insert(conn: Tx, token: ApiToken) -> None:
    conn.run("insert_token", {
        "token_id": token.token_id, "org_id": token.org_id, "role": token.role.value,
        "secret_digest": token.secret_sha256, "created_at": token.created_at})


def by_id(conn: Tx, token_id: str) -> ApiToken | None:
    row = conn.run("token_by_id", {"token_id": token_id}).fetchone()
    return _token(row) if row else None


def every(conn: Tx) -> list[ApiToken]:
    return [_token(row) for row in conn.run("all_tokens")]


def revoke(conn: Tx, token_id: str, now: float) -> ApiToken | None:
    """The token after revoking it (unchanged if it was revoked before); None if unknown."""
    conn.run("revoke_token", {"token_id": token_id, "now": now})
    return by_id(conn, token_id)


def count_active(conn: Tx) -> int:
    return int(conn.run("count_active_tokens").fetchone()["tokens"])


def touch(conn: Tx, token_id: str, now: float) -> None:
    conn.run("touch_token", {"token_id": token_id, "now": now})


def set_agent_token(conn: Tx, agent_id: str, token_id: str | None) -> None:
    conn.run("set_agent_token", {"agent_id": agent_id, "token_id": token_id})


def agent_owner(conn: Tx, agent_id: str) -> AgentOwner | None:
    row = conn.run("agent_token", {"agent_id": agent_id}).fetchone()
    return AgentOwner(row["id"], row["name"], row["token_id"]) if row else None


def online_agent_owner(conn: Tx, name: str) -> AgentOwner | None:
    row = conn.run("online_agent_token", {"name": name}).fetchone()
    return AgentOwner(row["id"], row["name"], row["token_id"], row["last_seen_at"]) \
        if row else None


def _token(row: Row) -> ApiToken:
    return ApiToken(token_id=row["id"], org_id=row["org_id"], role=Role(row["role"]),
                    secret_sha256=row["secret_sha256"], created_at=row["created_at"],
                    last_used_at=row["last_used_at"], revoked_at=row["revoked_at"])
