"""SQLite's migrations produce the expected schema, and every named query compiles on it."""

import re
import sqlite3
from pathlib import Path

import pytest

from qgjob.store import BadDatabaseUrl, open_store, sqlite_path
from qgjob.store.sqlfiles import load_migrations, load_queries

TABLES = {"jobs", "job_groups", "job_lanes", "agents", "devices", "leases", "attempts",
          "installs", "test_durations", "target_durations", "schema_migrations"}


def test_migrations_build_the_schema_once(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "q.db"))
    store.migrate()  # a second run changes nothing
    store.close()
    conn = sqlite3.connect(tmp_path / "q.db")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables >= TABLES
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert versions == [m.version for m in load_migrations("qgjob.store.sqlite.migrations")]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"jobs_lane_next", "job_lanes_ready", "leases_expiry"} <= indexes


def test_every_named_query_compiles_and_is_used(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "q.db"))
    store.close()
    conn = sqlite3.connect(tmp_path / "q.db")
    source = "".join(path.read_text() for path in Path("qgjob/store/sql").glob("*.py"))
    for name, sql in load_queries("qgjob.store.sqlite").items():
        params = {p: None for p in re.findall(r":([a-z_][a-z0-9_]*)", sql)}
        conn.execute(f"EXPLAIN {sql}", params)
        assert f'"{name}"' in source, f"query {name} is not used"


@pytest.mark.parametrize(
    ("query", "index"),
    [("ready_lanes", "job_lanes_ready"), ("lane_candidates", "jobs_lane_next"),
     ("queued_lane_seconds", "job_lanes_ready"), ("queued_jobs_of_org", "job_lanes_ready"),
     ("reprice_queued_test", "jobs_queued_test"), ("promote_due_retries", "jobs_retry_due"),
     ("runs_between", "attempts_finished"), ("installs_between", "installs_finished"),
     ("change_marker", "job_groups_updated"),
     ("change_marker", "runs_cancelled"),
     ("jobs_by_idempotency_keys", "jobs_idempotency"),
     ("test_durations_of", "sqlite_autoindex_test_durations_1"),
     ("run_job_counts", "jobs_run"), ("jobs_of_run", "jobs_run"),
     ("active_job_ids_of_run", "jobs_run"), ("run_attempt_details", "jobs_run"),
     ("jobs_ahead_in_lane", "jobs_lane_next"),
     ("count_device_time", "attempts_finished"), ("count_device_time", "installs_finished")],
)
def test_the_claim_path_reads_indexes_not_the_queue(tmp_path: Path, query: str,
                                                     index: str) -> None:
    store = open_store(str(tmp_path / "q.db"))
    store.close()
    conn = sqlite3.connect(tmp_path / "q.db")
    sql = load_queries("qgjob.store.sqlite")[query]
    params = {p: None for p in re.findall(r":([a-z_][a-z0-9_]*)", sql)}
    plan = " ".join(r[-1] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert index in plan
    assert "SCAN jobs" not in plan


def test_queue_counts_read_lanes_and_the_few_jobs_out_of_the_queue(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "q.db"))
    store.close()
    conn = sqlite3.connect(tmp_path / "q.db")
    sql = load_queries("qgjob.store.sqlite")["queue_counts"]
    steps = [r[-1] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
    reads_of_jobs = [step for step in steps if re.match(r"(SCAN|SEARCH) (jobs|j)\b", step)]
    assert "SCAN l USING INDEX job_lanes_ready" in steps
    assert reads_of_jobs == ["SEARCH j USING INDEX jobs_lease (lease_id=?)",
                             "SCAN jobs USING INDEX jobs_running",
                             "SCAN jobs USING INDEX jobs_retry_due"]


@pytest.mark.parametrize(
    ("url", "path", "options"),
    [
        ("sqlite:///data/q.db", "data/q.db", {}),
        ("sqlite:////var/lib/qgjob/q.db", "/var/lib/qgjob/q.db", {}),
        ("sqlite:///q.db?synchronous=NORMAL", "q.db", {"synchronous": "normal"}),
        ("plain/file.db", "plain/file.db", {}),
        ("plain/FILE.SQLITE3", "plain/FILE.SQLITE3", {}),
    ],
)
def test_sqlite_urls(url: str, path: str, options: dict) -> None:
    assert sqlite_path(url) == (Path(path), options)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "mysql://x/y"])
def test_bad_database_urls(url: str) -> None:
    with pytest.raises(BadDatabaseUrl):
        open_store(url)


def test_an_in_memory_database_is_refused_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's `:memory:` lives in one connection: `qgjob migrate` printed a missing table and
    left a `:memory:.migrate-lock` file behind."""
    monkeypatch.chdir(tmp_path)
    for url in ("sqlite:///:memory:", "sqlite:///./:memory:", "sqlite:///:memory:/"):
        with pytest.raises(BadDatabaseUrl, match="is not a file"):
            open_store(url)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["postgresql//qgjob@db.internal:5432/qgjob", "qgjob",
                                 "/var/lib/qgjob/q"])
def test_a_schemeless_value_that_names_no_sqlite_file_is_refused(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mistyped PostgreSQL URL was taken as a file path: the server started on a private
    SQLite database of its own. Nothing is created."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadDatabaseUrl, match="not a database URL"):
        open_store(url)
    assert list(tmp_path.iterdir()) == []
