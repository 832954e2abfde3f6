"""`qgjob token create|list|revoke`: API tokens, made directly in the database (not through
the API), so the first admin token exists before the server is opened to anyone."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from qgjob.auth.tokens import ApiToken, Role
from qgjob.cli import render
from qgjob.cli.app import app
from qgjob.cli.errors import EXIT_USAGE, CliError
from qgjob.cli.jobs import JsonOption, checked_org_id
from qgjob.cli.processes import DbOption

if TYPE_CHECKING:
    from qgjob.store.base import TokenStore

token_app = typer.Typer(
    name="token", no_args_is_help=True,
    help="API tokens: printed once when created, stored hashed. Works on the database "
         "directly (`--db`, like `qgjob server`).")
app.add_typer(token_app)


@token_app.command("create")
def create(
    role: Annotated[Role, typer.Option("--role", help="submitter, agent or admin.")],
    org_id: Annotated[str | None, typer.Option(
        "--org-id", show_default=False, callback=checked_org_id,
        help="The org a submitter acts for (required for submitters; a label otherwise).")]
    = None,
    db: DbOption = None,
) -> int:
    """Make a token and print it once, on stdout (and nothing else there)."""
    from qgjob.auth import tokens

    if role is Role.SUBMITTER and not org_id:
        raise CliError(EXIT_USAGE, "a submitter token needs --org-id")
    org = org_id or None
    record, text = tokens.issue(role, org, time.time())
    with _store(db) as store:
        store.insert_token(record)
    render.stderr.print(f"token {record.token_id} ({role.value}"
                        f"{', org ' + org if org else ''}); it is shown only this once")
    typer.echo(text)
    return 0


@token_app.command("list")
def list_tokens(db: DbOption = None, as_json: JsonOption = False) -> int:
    """Every token: id, org, role, created, last used, revoked. Never a secret."""
    with _store(db, existing=True) as store:
        found = store.list_tokens()
    rows = [_row(t) for t in found]
    render.listing(rows, as_json, "no tokens: the server accepts every request on loopback; "
                                  "create one with `qgjob token create`",
                   lambda rows: render.table(["ID", "ORG", "ROLE", "CREATED", "LAST USED",
                                              "REVOKED"], [list(r.values()) for r in rows]))
    return 0


@token_app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Option("--id", help="The token's id (see `token list`).")],
    db: DbOption = None,
) -> int:
    """Revoke a token; servers refuse it within a few seconds."""
    from qgjob.store.base import NotFound

    with _store(db, existing=True) as store:
        try:
            revoked = store.revoke_token(token_id[:64], time.time())
        except NotFound as unknown:
            raise CliError(EXIT_USAGE, str(unknown)) from None
    render.stderr.print(f"token {revoked.token_id} revoked at {_when(revoked.revoked_at)}")
    return 0


def _row(token: ApiToken) -> dict[str, str | None]:
    return {"id": token.token_id, "org_id": token.org_id, "role": token.role.value,
            "created_at": _when(token.created_at), "last_used_at": _when(token.last_used_at),
            "revoked_at": _when(token.revoked_at)}


def _when(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextlib.contextmanager
def _store(db: str | None, *, existing: bool = False) -> Iterator[TokenStore]:
    """The database `qgjob server` would open (migrated), closed afterwards. `existing`: a
    SQLite file must be there already (listing or revoking in a mistyped path would create an
    empty database, and say there are no tokens); `token create` makes the first one."""
    from qgjob.cli.processes import open_database, server_settings
    from qgjob.store import BadDatabaseUrl, sqlite_path

    settings = server_settings(db)
    url = settings.resolved_database_url
    if existing and not url.startswith(("postgresql://", "postgres://")):
        with contextlib.suppress(BadDatabaseUrl):  # open_database says what is wrong with it
            path = sqlite_path(url)[0]
            if not path.exists():
                raise CliError(EXIT_USAGE, f"no database at {path}")
    store = open_database(settings)
    try:
        yield store
    finally:
        store.close()
