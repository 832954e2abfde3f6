"""API tokens and agent-session ownership on SQLite. Functions run inside the caller's
transaction."""

from __future__ import annotations

import sqlite3

from qgjob.auth.tokens import ApiToken, Role
from qgjob.store.base import AgentOwner
from qgjob.store.sqlfiles import load_queries

Q = load_queries("qgjob.store.sqlite")


def insert(conn: sqlite3.Connection, token: ApiToken) -> None:
    conn.execute(Q["insert_token"], {
        "token_id": token.token_id, "org_id": token.org_id, "role": token.role.value,
        "secret_digest": token.secret_sha256, "created_at": token.created_at})


def by_id(conn: sqlite3.Connection, token_id: str) -> ApiToken | None:
    row = conn.execute(Q["token_by_id"], {"token_id": token_id}).fetchone()
    return _token(row) if row else None


def every(conn: sqlite3.Connection) -> list[ApiToken]:
    return [_token(row) for row in conn.execute(Q["all_tokens"])]


def revoke(conn: sqlite3.Connection, token_id: str, now: float) -> ApiToken | None:
    """The token after revoking it (unchanged if it was revoked before); None if unknown."""
    conn.execute(Q["revoke_token"], {"token_id": token_id, "now": now})
    return by_id(conn, token_id)


def count_active(conn: sqlite3.Connection) -> int:
    return int(conn.execute(Q["count_active_tokens"]).fetchone()[0])


def touch(conn: sqlite3.Connection, token_id: str, now: float) -> None:
    conn.execute(Q["touch_token"], {"token_id": token_id, "now": now})


def set_agent_token(conn: sqlite3.Connection, agent_id: str, token_id: str | None) -> None:
    conn.execute(Q["set_agent_token"], {"agent_id": agent_id, "token_id": token_id})


def agent_owner(conn: sqlite3.Connection, agent_id: str) -> AgentOwner | None:
    row = conn.execute(Q["agent_token"], {"agent_id": agent_id}).fetchone()
    return AgentOwner(row["id"], row["name"], row["token_id"]) if row else None


def online_agent_owner(conn: sqlite3.Connection, name: str) -> AgentOwner | None:
    row = conn.execute(Q["online_agent_token"], {"name": name}).fetchone()
    return AgentOwner(row["id"], row["name"], row["token_id"]) if row else None


def _token(row: sqlite3.Row) -> ApiToken:
    return ApiToken(token_id=row["id"], org_id=row["org_id"], role=Role(row["role"]),
                    secret_sha256=row["secret_sha256"], created_at=row["created_at"],
                    last_used_at=row["last_used_at"], revoked_at=row["revoked_at"])
