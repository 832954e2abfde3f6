"""PostgreSQL behind the store's `Database` seam: a connection pool, read-committed write
transactions whose row locks the queries take, repeatable-read snapshots for reads, and
migrations serialised across replicas by an advisory lock."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from qgjob.store.base import StoreUnavailable, WriteRefusal, WritesRefused
from qgjob.store.sql.database import TransientConflict, Tx
from qgjob.store.sql.write_watch import WriteWatch
from qgjob.store.sqlfiles import load_migrations, load_queries

log = logging.getLogger(__name__)
QUERIES = load_queries("qgjob.store.postgres")
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_TRANSIENT = (errors.DeadlockDetected, errors.SerializationFailure, errors.LockNotAvailable)
_REFUSING_WRITES = (errors.DiskFull, errors.IoError, errors.ReadOnlySqlTransaction)
"""The server, not the request, refused the write."""
CONNECT_TIMEOUT_SECONDS = 10
_OPEN = (psycopg.pq.TransactionStatus.INTRANS, psycopg.pq.TransactionStatus.INERROR)


class BadPostgresUrl(ValueError):
    pass


def _placeholder(name: str) -> str:
    return f"%({name})s"


def _in_list(column: str, name: str) -> str:
    return f"{column} = ANY(%({name})s::text[])"


def _array(values: Sequence[Any]) -> list[Any]:
    return list(values)


def _tx(conn: psycopg.Connection[Any]) -> Tx:
    return Tx(conn, QUERIES, placeholder=_placeholder, in_list=_in_list, array=_array)


def parse_url(url: str) -> tuple[str, str, int]:
    """A postgresql:// URL -> (libpq conninfo, schema, pool size). qgjob's own parameters:
    `schema` (default `public`) and `pool_size` (default 10); the rest go to libpq."""
    parts = urlsplit(url)
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        (ours.__setitem__(key, value) if key in ("schema", "pool_size")
         else theirs.append((key, value)))
    schema = ours.get("schema", "public")
    if not _SCHEMA.match(schema):
        raise BadPostgresUrl(f"schema must be a lower-case SQL name, not {schema!r}")
    try:
        pool_size = int(ours.get("pool_size", "10"))
    except ValueError:
        raise BadPostgresUrl("pool_size must be a whole number") from None
    if not 1 <= pool_size <= 500:
        raise BadPostgresUrl("pool_size must be between 1 and 500")
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(theirs), ""))
    try:
        conninfo_to_dict(base)
    except psycopg.ProgrammingError as bad:
        raise BadPostgresUrl(f"not a valid PostgreSQL URL: {bad}") from None
    options = f"-c search_path={schema}"
    conninfo = make_conninfo(base, options=options,
                             connect_timeout=str(CONNECT_TIMEOUT_SECONDS),
                             application_name="qgjob")
    return conninfo, schema, pool_size


def describe(conninfo: str) -> str:
    """Where a conninfo points, without its password (for messages and logs)."""
    params = conninfo_to_dict(conninfo)
    host = params.get("host") or "localhost"
    user = f"{params['user']}@" if params.get("user") else ""
    return f"{user}{host}:{params.get('port', 5432)}/{params.get('dbname', '')}"


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.conninfo, self.schema, pool_size = parse_url(url)
        self.where = describe(self.conninfo)
        self.own_pids: set[int] = set()
        """Backends of this process's pool: notifications they send need not wake us."""
        # Probe before the pool's workers start: an unreachable database is then one line
        # at start, not that line after each worker's own "error connecting" warning.
        self._probe_reachable()
        self._pool = ConnectionPool(
            self.conninfo, min_size=min(2, pool_size), max_size=pool_size,
            kwargs={"autocommit": True, "row_factory": dict_row},
            configure=self._configure, check=ConnectionPool.check_connection,
            timeout=CONNECT_TIMEOUT_SECONDS, name="qgjob", open=False,
        )
        self._pool.open(wait=False)
        self._writes = WriteWatch(self._probe_write)

    def __repr__(self) -> str:
        return repr(f"postgresql://{self.where}?schema={self.schema}")

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        self.own_pids.add(conn.info.backend_pid)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except _TRANSIENT as conflict:
            raise TransientConflict(str(conflict).strip()) from None
        except _REFUSING_WRITES as refused:
            raise WritesRefused(f"PostgreSQL at {self.where}: {first_line(refused)}") from None
        except PoolTimeout:
            raise StoreUnavailable(f"no connection to PostgreSQL at {self.where} within "
                                   f"{CONNECT_TIMEOUT_SECONDS}s") from None
        except psycopg.OperationalError as lost:
            raise StoreUnavailable(f"PostgreSQL at {self.where}: {first_line(lost)}") from None

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._writes.watching(), self._connection() as conn, conn.transaction():
            yield _tx(conn)

    def write_refusal(self) -> WriteRefusal | None:
        return self._writes.refusal()

    def _probe_write(self) -> None:
        """A transaction that takes a transaction id commits a record to the write-ahead
        log, and changes nothing."""
        with self.write() as tx:
            tx.run_sql("SELECT txid_current()", {}).fetchone()

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._connection() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield _tx(conn)
            finally:
                if conn.info.transaction_status in _OPEN:
                    conn.execute("ROLLBACK")

    def migrate(self) -> None:
        """Apply pending migrations in one transaction; an advisory lock (per schema) makes
        replicas that start together wait for the first one."""
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                         [f"qgjob-migrate:{self.schema}"])
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at DOUBLE PRECISION NOT NULL)")
            row = conn.execute("SELECT max(version) AS version FROM schema_migrations"
                               ).fetchone()
            applied = int(row["version"] or 0) if row else 0
            for migration in load_migrations("qgjob.store.postgres.migrations"):
                if migration.version <= applied:
                    continue
                conn.execute(migration.sql)
                conn.execute("INSERT INTO schema_migrations (version, name, applied_at) "
                             "VALUES (%s, %s, %s)",
                             [migration.version, migration.name, time.time()])
                log.info("applied migration %04d_%s", migration.version, migration.name)

    def schema_version(self) -> int:
        with self.read() as conn:
            row = conn.run_sql("SELECT max(version) AS version FROM schema_migrations", {}
                               ).fetchone()
        return int(row["version"] or 0)

    def ping(self) -> None:
        with self.read() as conn:
            conn.run_sql("SELECT 1", {}).fetchone()

    def _probe_reachable(self) -> None:
        """One connection, at start-up: fail fast, with one clear line, when the database is
        not there (it does not wait or retry)."""
        try:
            with psycopg.connect(self.conninfo, autocommit=True):
                pass
        except psycopg.OperationalError as bad:
            raise StoreUnavailable(
                f"cannot connect to PostgreSQL at {self.where}: {first_line(bad)}") from None

    def session(self) -> psycopg.Connection[Any]:
        """A connection of its own, outside the pool (for LISTEN and the leader lock)."""
        return psycopg.connect(self.conninfo, autocommit=True, row_factory=dict_row)

    def close(self) -> None:
        self._pool.close()


def first_line(error: Exception) -> str:
    """An error's message for a log line: its first line, else its type's name."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

