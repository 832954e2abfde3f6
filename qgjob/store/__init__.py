"""Storage: the interface (base.py) and its implementations, chosen by a database URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from qgjob.store.base import Store


class BadDatabaseUrl(ValueError):
    pass


def open_store(url: str) -> Store:
    """Open (and migrate) the store a URL names: `sqlite:///relative.db`,
    `sqlite:////absolute/path.db` (optionally `?synchronous=normal`), or a bare file path."""
    if url.startswith(("postgresql://", "postgres://")):
        raise BadDatabaseUrl("PostgreSQL is not supported by this build yet; use sqlite:///PATH")
    from qgjob.store.sqlite import SQLiteStore

    path, options = sqlite_path(url)
    store = SQLiteStore(path, synchronous=options.get("synchronous", "full"))
    store.migrate()
    return store


def sqlite_path(url: str) -> tuple[Path, dict[str, str]]:
    if "://" not in url:
        return Path(url).expanduser(), {}
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise BadDatabaseUrl(f"unsupported database URL scheme {parts.scheme!r}")
    raw = url[len("sqlite:///"):].split("?", 1)[0] if url.startswith("sqlite:///") else ""
    if not raw:
        raise BadDatabaseUrl("a SQLite URL needs a file path: sqlite:///path/to/qgjob.db")
    options = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    return Path(raw).expanduser(), options
