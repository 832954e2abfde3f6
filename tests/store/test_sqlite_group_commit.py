"""SQLite's writers share commits under load, yet each block is durable when it returns and a
block that fails takes only its own writes back."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from qgjob.store.sqlite import connection
from qgjob.store.sqlite.connection import Connections


@pytest.fixture
def connections(tmp_path: Path) -> Connections:
    connections = Connections(tmp_path / "g.db")
    with connections.write() as conn:
        conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
    return connections


def committed(connections: Connections) -> set[int]:
    with connections.read() as conn:
        return {row[0] for row in conn.execute("SELECT n FROM t")}


def test_a_queued_writer_carries_the_transaction_and_a_failure_is_its_own(
        connections: Connections) -> None:
    seen_after_return: dict[str, set[int]] = {}
    queued = threading.Event()

    def first() -> None:
        with connections.write() as conn:
            conn.execute("INSERT INTO t VALUES (1)")
            queued.wait(5)  # two writers are waiting for their turn now
        seen_after_return["first"] = committed(connections)

    def failing() -> None:
        with pytest.raises(RuntimeError), connections.write() as conn:
            conn.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("this block fails")

    def last() -> None:
        with connections.write() as conn:
            conn.execute("INSERT INTO t VALUES (3)")

    threads = [threading.Thread(target=first)]
    threads[0].start()
    time.sleep(0.05)
    for target in (failing, last):
        threads.append(threading.Thread(target=target))
        threads[-1].start()
        time.sleep(0.05)
    while connections._queue_length < 2:  # the test arranges the queue
        time.sleep(0.01)
    queued.set()
    for thread in threads:
        thread.join(10)
    assert committed(connections) == {1, 3}
    assert seen_after_return["first"] >= {1}  # returned only once its write was committed


def test_concurrent_writers_share_commits_and_lose_nothing(connections: Connections) -> None:
    commits = []
    connections._writer.set_trace_callback(
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)

    def writer(base: int) -> None:
        for n in range(100):
            with connections.write() as conn:
                conn.execute("INSERT INTO t VALUES (?)", (base + n,))
                time.sleep(0.0005)  # a little work inside, as a claim or a report does

    threads = [threading.Thread(target=writer, args=(1000 * k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(committed(connections)) == 800
    assert len(commits) < 800  # queued writers shared transactions


def test_a_lone_writer_commits_at_once(connections: Connections) -> None:
    with connections.write() as conn:
        conn.execute("INSERT INTO t VALUES (7)")
    assert committed(connections) == {7}
    raw = sqlite3.connect(connections.path)
    assert raw.execute("SELECT n FROM t").fetchall() == [(7,)]


def test_when_sqlite_rolls_the_whole_transaction_back_every_block_in_it_fails_at_once(
        connections: Connections, monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLITE_FULL or SQLITE_IOERR SQLite may roll back the whole transaction, savepoints
    and all: the blocks that joined it before must fail too, not wait for its commit."""
    monkeypatch.setattr(connection, "GROUP_SECONDS", 60.0)  # first leaves the commit to next
    outcomes: dict[str, str] = {}
    queued = threading.Event()

    def first() -> None:
        try:
            with connections.write() as conn:
                conn.execute("INSERT INTO t VALUES (1)")
                queued.wait(5)  # the failing writer waits for its turn now
        except sqlite3.Error as error:
            outcomes["first"] = str(error)
        else:
            outcomes["first"] = "committed"

    def disk_full() -> None:
        try:
            with connections.write() as conn:
                conn.execute("ROLLBACK")  # what SQLite does itself on a full disk
                raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.Error as error:
            outcomes["disk_full"] = str(error)

    threads = [threading.Thread(target=first, daemon=True),
               threading.Thread(target=disk_full, daemon=True)]
    threads[0].start()
    time.sleep(0.05)
    threads[1].start()
    while connections._queue_length < 1:
        time.sleep(0.01)
    queued.set()
    for thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for thread in threads), "a writer waits for ever"
    assert outcomes == {"first": "the commit failed: database or disk is full",
                        "disk_full": "database or disk is full"}
    with connections.write() as conn:  # the writer is usable again
        conn.execute("INSERT INTO t VALUES (2)")
    assert committed(connections) == {2}
