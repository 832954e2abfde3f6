from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qgjob.api.app import create_app
from qgjob.settings import ServerSettings


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return ServerSettings(database_url=f"sqlite:///{tmp_path / 'api.db'}", heartbeat_seconds=0.2,
                          claim_poll_seconds=0.2, artifact_dir=str(tmp_path / "artifacts"))


@pytest.fixture
def client(settings: ServerSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, maintenance=False)) as test_client:
        yield test_client
