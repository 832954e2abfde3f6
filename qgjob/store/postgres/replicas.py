"""What lets several servers share one PostgreSQL queue: each replica listens for the
notifications the jobs table sends when work appears (so a claim waiting on one replica wakes
when a job is submitted through another), and one replica at a time runs maintenance, the one
holding an advisory lock on its own session (it passes on when that session ends)."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import psycopg

from qgjob.store.base import WakeUp
from qgjob.store.postgres.database import PostgresDatabase, first_line

log = logging.getLogger(__name__)


class WorkListener:
    def __init__(self, database: PostgresDatabase, wake: WakeUp) -> None:
        """`wake` is called from the listener's thread: once per submit and build, and once
        per job queued again (retry, hand-back, rescue)."""
        self._db = database
        self._wake = wake
        self._channel = f"qgjob_work_{database.schema}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="qgjob-listen", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._db.session() as conn:
                    conn.execute(f'LISTEN "{self._channel}"')
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._deliver(note)
            except psycopg.Error as lost:
                if self._stopping.is_set():
                    return
                log.warning("listening for work on PostgreSQL: %s; reconnecting in 1s",
                            first_line(lost))
                self._stopping.wait(1.0)

    def _deliver(self, note: psycopg.Notify) -> None:
        if note.pid in self._db.own_pids:
            return  # this replica made the change and woke its own waiters already
        fields = note.payload.split("\t")  # target, build, count (, job id)
        if len(fields) < 3 or not fields[2].isdigit():
            log.warning("ignored a malformed work notification: %r", note.payload[:200])
            return
        try:
            self._wake(fields[0], fields[1], int(fields[2]))
        except Exception:  # a wake-up is a hint; never let one stop the listener
            log.exception("delivering a work notification failed")

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)


class MaintenanceLeader:
    """`is_leader()` is called before each maintenance pass: it takes or keeps the lock."""

    def __init__(self, database: PostgresDatabase) -> None:
        self._db = database
        self._key = f"qgjob-maintenance:{database.schema}"
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()

    def is_leader(self) -> bool:
        with self._lock:
            try:
                if self._conn is not None:
                    self._conn.execute("SELECT 1")
                    return True
                conn = self._db.session()
                row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s)) AS mine",
                                   [self._key]).fetchone()
                if row is not None and row["mine"]:
                    self._conn = conn
                    log.info("this replica runs maintenance now")
                    return True
                conn.close()
                return False
            except psycopg.Error as lost:
                log.warning("maintenance lock: %s", first_line(lost))
                self._drop()
                return False

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._drop()
