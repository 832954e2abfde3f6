"""The PostgreSQL server tests run against: QGJOB_TEST_POSTGRES_URL, by default the local
one. Each test gets a schema of its own, dropped afterwards. Without a reachable server the
tests skip, except in CI (CI=true), where they fail: CI must test PostgreSQL for real."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

URL = os.environ.get("QGJOB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@functools.cache
def unreachable(url: str = URL) -> str | None:
    """Why the PostgreSQL server at `url` cannot be used (one line), or None when it can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(url, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL at {url} is unreachable: {str(error).strip().splitlines()[0]}"


def require_postgres() -> str:
    reason = unreachable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI must run the PostgreSQL tests)")
        pytest.skip(reason)
    return URL


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A store URL naming a schema no one uses yet; the schema is dropped afterwards."""
    url = require_postgres()
    schema = f"qgjob_test_{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}schema={schema}"
    finally:
        drop_schema(schema)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""For `@pytest.fixture(params=BACKENDS)`: each test once per store."""


@contextmanager
def database_url(backend: str, folder: Path) -> Iterator[str]:
    """A fresh database of `backend` ("sqlite" in `folder`, or "postgres")."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'qgjob.db'}"
        return
    with fresh_schema() as url:
        yield url
