"""Every store implementation runs the same contract tests. PostgreSQL joins the list when
its store lands."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from qgjob.store import open_store
from qgjob.store.base import Store

BACKENDS = ["sqlite"]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'qgjob.db'}")
    yield opened
    opened.close()
