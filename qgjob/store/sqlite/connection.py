"""SQLite connections: one writer behind a lock, a pool of readers (WAL lets them read while
the writer writes). Writers queue on a Python lock rather than on SQLite's busy handler, which
sleeps and retries; `busy_timeout` still covers other processes (e.g. `qgjob token create`)."""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)
SYNCHRONOUS_MODES = ("full", "normal", "extra")
GROUP_TURNS = 16
GROUP_SECONDS = 0.02
"""A transaction is committed after this many blocks, or once it has been open this long,
even with writers still queued: the first block of a group waits for the commit."""


class _Group:
    """The blocks of one transaction, waiting for its commit."""

    def __init__(self) -> None:
        self.members = 0
        """Blocks that succeeded (the others rolled back their savepoints)."""
        self.turns = 0
        self.opened_at = time.monotonic()
        self._done = threading.Event()
        self._failure: BaseException | None = None

    def settle(self, failure: BaseException | None) -> None:
        self._failure = failure
        self._done.set()

    @property
    def settled(self) -> bool:
        return self._done.is_set()

    def wait(self) -> None:
        self._done.wait()
        if self._failure is not None:
            raise StoreCommitFailed(f"the commit failed: {self._failure}") from self._failure


class StoreCommitFailed(sqlite3.OperationalError):
    """A transaction this block's writes were part of did not commit: they are lost."""


class Connections:
    def __init__(self, path: Path, synchronous: str = "full") -> None:
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        self.path = path
        self._synchronous = synchronous
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        self._writer.execute("PRAGMA journal_mode = WAL")
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue_length = 0
        """Writers waiting for the write lock."""
        self._group = _Group()
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all = [self._writer]
        self._all_lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back if the block raises.

        Group commit: writers take turns, each block under a savepoint of one open
        transaction. A writer that finds others queued behind it leaves the commit to them
        and waits for it; the last of the queue commits for all (or the `GROUP_TURNS`-th, or
        the first once the transaction is `GROUP_SECONDS` old). So under load one flush to
        disk serves many claims, starts and reports, and every block still returns only
        once its writes are durable. A block that raises rolls back its own savepoint
        only."""
        with self._queued():
            conn = self._writer
            if conn.in_transaction and self._group.settled:  # a rollback that failed
                conn.execute("ROLLBACK")
            if not conn.in_transaction:
                conn.execute("BEGIN IMMEDIATE")
                self._group = _Group()
            group = self._group
            try:
                conn.execute("SAVEPOINT block")
                yield conn
            except BaseException as failure:
                self._undo_block(group, failure)
                raise
            conn.execute("RELEASE block")
            group.members += 1
            group.turns += 1
            self._end_turn(group)
        group.wait()

    def _undo_block(self, group: _Group, failure: BaseException) -> None:
        """Take back a failed block's writes; the blocks before it in the transaction stay,
        unless SQLite rolled the whole transaction back itself (it may on SQLITE_FULL or
        SQLITE_IOERR, and its savepoints go with it): then their writes are lost, and they
        learn so now rather than wait for a commit that will never come."""
        conn = self._writer
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK TO block")
                conn.execute("RELEASE block")
            except sqlite3.Error as undo:
                self._abandon(group, undo)
                return
            group.turns += 1
            self._end_turn(group)
            return
        self._abandon(group, failure)

    def _abandon(self, group: _Group, failure: BaseException) -> None:
        """End the transaction without committing; every block in it fails with `failure`."""
        try:
            if self._writer.in_transaction:
                self._writer.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("could not roll back a failed transaction; the next write will")
        group.settle(failure)

    def _end_turn(self, group: _Group) -> None:
        """Commit now, unless a writer is queued to carry the transaction on (it, or the last
        after it, commits). Runs holding the write lock."""
        if self._queue_length > 0 and group.turns < GROUP_TURNS \
                and time.monotonic() - group.opened_at < GROUP_SECONDS:
            return
        conn = self._writer
        try:
            if group.members:
                conn.execute("COMMIT")
            else:
                conn.execute("ROLLBACK")
        except BaseException as failure:
            self._abandon(group, failure)
            raise
        group.settle(None)

    @contextmanager
    def _queued(self) -> Iterator[None]:
        with self._queue_lock:
            self._queue_length += 1
        try:
            self._write_lock.acquire()
        finally:
            with self._queue_lock:
                self._queue_length -= 1
        try:
            yield
        finally:
            self._write_lock.release()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: a consistent snapshot across the queries in the block."""
        try:
            conn = self._readers.get_nowait()
        except queue.Empty:
            conn = self._connect()
            with self._all_lock:
                self._all.append(conn)
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        finally:
            self._readers.put(conn)

    def script(self, sql: str) -> None:
        """Run a multi-statement script (a migration) as one transaction."""
        with self._queued():
            if self._writer.in_transaction:  # a group left open for this turn
                self._writer.execute("COMMIT")
                self._group.settle(None)
            try:
                self._writer.executescript(f"BEGIN IMMEDIATE;\n{sql}\nCOMMIT;")
            except BaseException:
                if self._writer.in_transaction:
                    self._writer.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
