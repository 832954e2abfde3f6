"""Storage: the interface (base.py) and its implementations, chosen by a database URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from qgjob.store.base import Store


class BadDatabaseUrl(ValueError):
    pass


def open_store(url: str) -> Store:
    """Open (and migrate) the store a URL names: `sqlite:///relative.db`,
    `sqlite:////absolute/path.db` (optionally `?synchronous=normal`), a bare file path ending
    in one of `SQLITE_SUFFIXES`, or
    `postgresql://user:password@host:port/database` (optionally `?schema=NAME&pool_size=N`
    and any libpq parameter such as `sslmode=require`)."""
    if url.startswith(("postgresql://", "postgres://")):
        return _open_postgres(url)
    from qgjob.store.sqlite import SQLiteStore

    path, options = sqlite_path(url)
    store = SQLiteStore(path, synchronous=options.get("synchronous", "full"))
    store.migrate()
    return store


def redacted(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _open_postgres(url: str) -> Store:
    from qgjob.store.postgres import PostgresStore
    from qgjob.store.postgres.database import BadPostgresUrl

    try:
        store = PostgresStore(url)  # fails fast, with one line, on a database not there
    except BadPostgresUrl as bad:
        raise BadDatabaseUrl(str(bad)) from None
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store


SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
"""What a bare path (a URL without a scheme) must end in to name a SQLite file: anything
else is more likely a URL mistyped ("postgresql//host/db") than a file, and would quietly
give a replica a private database of its own."""


def sqlite_path(url: str) -> tuple[Path, dict[str, str]]:
    if "://" not in url:
        if not url.lower().endswith(SQLITE_SUFFIXES):
            raise BadDatabaseUrl(
                f"{url!r} is not a database URL (sqlite:///path/to/qgjob.db or "
                f"postgresql://user@host:5432/db) nor a SQLite file path ending in "
                f"{', '.join(SQLITE_SUFFIXES)}")
        return Path(url).expanduser(), {}
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise BadDatabaseUrl(f"unsupported database URL scheme {parts.scheme!r}")
    raw = url[len("sqlite:///"):].split("?", 1)[0] if url.startswith("sqlite:///") else ""
    if not raw:
        raise BadDatabaseUrl("a SQLite URL needs a file path: sqlite:///path/to/qgjob.db")
    if str(Path(raw)) == ":memory:":  # also ./:memory: and :memory:/, which Path makes it
        # SQLite's name for a database in one connection's memory: qgjob's server, its
        # replicas and `qgjob migrate` share the file, and the migration lock sits beside it.
        raise BadDatabaseUrl(f"{raw!r} is not a file: qgjob keeps its jobs in a SQLite "
                             "file that every process shares (sqlite:///path/to/qgjob.db)")
    options = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    return Path(raw).expanduser(), options
