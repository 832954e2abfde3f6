"""The embedded store: SQLite in WAL mode, every state change one `BEGIN IMMEDIATE`
transaction on the single writer connection."""

from __future__ import annotations

from pathlib import Path

from qgjob.store.sql.store import SqlStore
from qgjob.store.sqlite.database import SqliteDatabase


class SQLiteStore(SqlStore):
    def __init__(self, path: Path, synchronous: str = "full") -> None:
        super().__init__(SqliteDatabase(path, synchronous))


__all__ = ["SQLiteStore"]
