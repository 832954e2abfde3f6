"""SQLite behind the store's `Database` seam: WAL, one writer, pooled readers, and migrations
serialised across processes with a file lock."""

from __future__ import annotations

import fcntl
import functools
import json
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qgjob.store.base import WriteRefusal, WritesRefused
from qgjob.store.sql.database import Tx
from qgjob.store.sql.write_watch import WriteWatch
from qgjob.store.sqlfiles import load_migrations, load_queries
from qgjob.store.sqlite.connection import Connections

QUERIES = load_queries("qgjob.store.sqlite")


def _placeholder(name: str) -> str:
    return f":{name}"


def _in_list(column: str, name: str) -> str:
    return f"{column} IN (SELECT value FROM json_each(:{name}))"


def _tx(conn: sqlite3.Connection) -> Tx:
    return Tx(conn, QUERIES, placeholder=_placeholder, in_list=_in_list, array=json.dumps,
              many=_run_many)


def _run_many(conn: sqlite3.Connection, sql: str, rows: Sequence[Mapping[str, Any]]) -> int:
    """An `INSERT … VALUES (one row)` goes in as multi-row VALUES, as few statements as the
    bound-parameter limit allows: sqlite3's executemany takes the GIL back between rows, so
    a 1,000-job submit would stall the event loop (and be stalled by it) a thousand times;
    one statement runs without it. Other statements go through executemany."""
    names = _row_names(sql)
    if names is None or len(rows) < 2:
        return int(conn.executemany(sql, rows).rowcount)
    per_statement = max(1, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(names))
    changed = 0
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        statement = _multi_row(sql, len(chunk))
        changed += conn.execute(statement, [row[n] for row in chunk for n in names]).rowcount
    return changed


_VALUES_ROW = re.compile(r"^\s*INSERT\b.*?\bVALUES\s*(\((?:[^()']|'[^']*'|\([^()]*\))*\))",
                         re.IGNORECASE | re.DOTALL)
_NAMED = re.compile(r":([a-z_][a-z0-9_]*)")


@functools.lru_cache(maxsize=64)
def _row_names(sql: str) -> tuple[str, ...] | None:
    """The parameters of an `INSERT … VALUES (one row)` in the order they appear (None for
    any other statement)."""
    values = _VALUES_ROW.search(sql)
    return None if values is None else tuple(_NAMED.findall(values.group(1)))


@functools.lru_cache(maxsize=64)
def _multi_row(sql: str, count: int) -> str:
    values = _VALUES_ROW.search(sql)
    assert values is not None
    row = _NAMED.sub("?", values.group(1))
    return sql[:values.start(1)] + ",".join([row] * count) + sql[values.end(1):]


_REFUSING_WRITES = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY}
"""Primary result codes that say the disk, not the request, refused the write."""


def _refuses_writes(error: BaseException | None) -> bool:
    while error is not None:  # a shared commit's failure comes wrapped (StoreCommitFailed)
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _REFUSING_WRITES:
            return True
        error = error.__cause__
    return False


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, path: Path, synchronous: str = "full") -> None:
        self.path = path
        self._connections = Connections(path, synchronous)
        self._writes = WriteWatch(self._probe_write)

    def __repr__(self) -> str:
        return repr(str(self.path))

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._writes.watching():
            try:
                with self._connections.write() as conn:
                    yield _tx(conn)
            except sqlite3.Error as error:
                if _refuses_writes(error):
                    raise WritesRefused(f"SQLite at {self.path}: {error}") from error
                raise

    def write_refusal(self) -> WriteRefusal | None:
        return self._writes.refusal()

    def _probe_write(self) -> None:
        """Rewrites the header's user_version (unused by qgjob) with its own value: a real
        write to the log that changes nothing."""
        with self.write() as tx:
            version = int(tx.raw.execute("PRAGMA user_version").fetchone()[0])
            tx.raw.execute(f"PRAGMA user_version = {version}")

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._connections.read() as conn:
            yield _tx(conn)

    def migrate(self) -> None:
        """Apply pending migrations; a file lock keeps two processes from racing."""
        with _file_lock(self.path.with_name(self.path.name + ".migrate-lock")):
            with self._connections.write() as conn:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
                )
            applied = self.schema_version()
            for migration in load_migrations("qgjob.store.sqlite.migrations"):
                if migration.version <= applied:
                    continue
                record = (
                    "INSERT INTO schema_migrations (version, name, applied_at) "
                    f"VALUES ({migration.version}, '{migration.name}', {time.time()});"
                )
                self._connections.script(migration.sql + "\n" + record)

    def schema_version(self) -> int:
        with self._connections.read() as conn:
            row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def ping(self) -> None:
        with self._connections.read() as conn:
            conn.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self._connections.close()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
