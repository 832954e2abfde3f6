"""Every store implementation runs the same contract tests: SQLite, and PostgreSQL (a fresh
schema per test; see tests/postgres.py for when those run)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from qgjob.store import open_store
from qgjob.store.base import Store
from tests.postgres import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()
