"""`qgjob migrate`: the schema brought up to date ahead of the servers, on either database;
an unreachable or malformed database is one line and the contract's exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from qgjob.cli.main import main
from qgjob.store.sqlfiles import load_migrations
from tests.postgres import fresh_schema


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_migrate_sqlite_twice(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    latest = len(load_migrations("qgjob.store.sqlite.migrations"))
    for _ in range(2):
        code, out, _ = run(capsys, "migrate", "--db", f"sqlite:///{tmp_path / 'm.db'}")
        assert code == 0 and out.strip().endswith(f"schema version {latest}")


@pytest.mark.postgres
def test_migrate_postgres_hides_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    latest = len(load_migrations("qgjob.store.postgres.migrations"))
    with fresh_schema() as url:
        with_password = url.replace("postgres@", "postgres:hunter2@", 1)
        code, out, _ = run(capsys, "migrate", "--db", with_password)
    assert code == 0 and out.strip().endswith(f"schema version {latest}")
    assert "hunter2" not in out


@pytest.mark.parametrize(("url", "code", "message"), [
    ("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2", 4, "cannot connect"),
    ("postgresql://postgres@127.0.0.1/test?schema=Bad", 2, "schema must be"),
    ("mysql://x/y", 2, "unsupported database URL scheme"),
])
def test_bad_databases(capsys: pytest.CaptureFixture[str], url: str, code: int,
                       message: str) -> None:
    exit_code, _, err = run(capsys, "migrate", "--db", url)
    assert exit_code == code and message in err and err.count("\n") == 1
