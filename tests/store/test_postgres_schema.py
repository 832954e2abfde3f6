"""PostgreSQL's schema and queries mirror SQLite's: the same query names, tables and columns;
every query compiles; the claim path can use its indexes."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from qgjob.store import BadDatabaseUrl, open_store
from qgjob.store.postgres.database import describe, parse_url
from qgjob.store.sqlfiles import load_migrations, load_queries
from tests.postgres import fresh_schema

pytestmark = pytest.mark.postgres
PG = load_queries("qgjob.store.postgres")


def _columns_sqlite(tmp_path: Path) -> dict[str, set[str]]:
    open_store(str(tmp_path / "q.db")).close()
    conn = sqlite3.connect(tmp_path / "q.db")
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    return {t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")} for t in tables}


def test_both_dialects_name_the_same_queries() -> None:
    assert set(PG) == set(load_queries("qgjob.store.sqlite"))


def test_the_schema_matches_sqlite_and_every_query_compiles(tmp_path: Path) -> None:
    import psycopg

    with fresh_schema() as url:
        store = open_store(url)
        store.migrate()  # a second run changes nothing
        assert store.schema_version() == len(load_migrations("qgjob.store.postgres.migrations"))
        store.close()
        conninfo, schema, _ = parse_url(url)
        with psycopg.connect(conninfo) as conn:
            rows = conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = %s", [schema]).fetchall()
            columns: dict[str, set[str]] = {}
            for table, column in rows:
                columns.setdefault(table, set()).add(column)
            assert columns == _columns_sqlite(tmp_path)
            for name, sql in PG.items():
                params = {p: None for p in re.findall(r"%\(([a-z_][a-z0-9_]*)\)s", sql)}
                conn.execute(f"EXPLAIN {sql}", params)  # raises if it does not compile
                assert name


@pytest.mark.parametrize(
    ("query", "index"),
    [("ready_lanes", "job_lanes_ready"), ("lane_candidates", "jobs_lane_next"),
     ("queued_lane_seconds", "job_lanes_ready"), ("promote_due_retries", "jobs_retry_due"),
     ("expired_leases", "leases_expiry"),
     ("change_marker", "job_groups_updated"),
     ("change_marker", "runs_cancelled"),
     ("count_device_time", "attempts_finished"), ("count_device_time", "installs_finished")],
)
def test_the_claim_path_can_use_its_indexes(query: str, index: str) -> None:
    import psycopg

    with fresh_schema() as url:
        open_store(url).close()
        conninfo, _, _ = parse_url(url)
        with psycopg.connect(conninfo) as conn:
            conn.execute("SET enable_seqscan = off")
            sql = PG[query]
            sample = {"now": 1.0, "limit": 10, "max_step": 50.0}
            params = {p: sample.get(p, "x") for p in re.findall(r"%\(([a-z_][a-z0-9_]*)\)s", sql)}
            plan = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {sql}", params))
            assert index in plan, plan


@pytest.mark.parametrize(
    ("url", "message"),
    [("postgresql://u@h/db?schema=Bad-Name", "schema"),
     ("postgresql://u@h/db?pool_size=0", "pool_size"),
     ("postgresql://u@h/db?pool_size=lots", "pool_size"),
     ("postgresql://u@h/db?no_such_libpq_option=1", "not a valid PostgreSQL URL")],
)
def test_bad_postgres_urls(url: str, message: str) -> None:
    with pytest.raises(BadDatabaseUrl, match=message):
        open_store(url)


def test_an_unreachable_server_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """One error, and nothing before it: the connection pool is not opened for a database
    that is not there (its workers each logged an "error connecting" warning ahead of the
    line that says so)."""
    from psycopg_pool import ConnectionPool

    from qgjob.store.base import StoreUnavailable

    opened: list[object] = []
    monkeypatch.setattr(ConnectionPool, "open", lambda pool, *a, **k: opened.append(pool))
    with pytest.raises(StoreUnavailable, match=r"cannot connect to PostgreSQL at .*:1/"):
        open_store("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")
    assert opened == []


@pytest.mark.parametrize(("conninfo", "where"), [
    ("host=127.0.0.1 port=1 dbname=x", "127.0.0.1:1/x"),
    ("host=db user=qgjob password=secret dbname=q", "qgjob@db:5432/q"),
])
def test_where_a_database_is_named_without_a_stray_at_or_the_password(conninfo: str,
                                                                      where: str) -> None:
    assert describe(conninfo) == where
