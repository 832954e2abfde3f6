"""Shutting the app down never leaves a store call running: the store is closed only after
every call the service made has returned (closing SQLite under a running call crashed the
process)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from qgjob.api.app import create_app
from qgjob.settings import ServerSettings
from qgjob.store import open_store


class SlowStore:
    """A real store whose maintenance pass takes a while, counting calls under way."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.under_way = 0
        self.started = threading.Event()

    def rescue_expired_leases(self, *args: Any) -> Any:
        with self._lock:
            self.under_way += 1
        self.started.set()
        try:
            time.sleep(0.5)
            return self._inner.rescue_expired_leases(*args)
        finally:
            with self._lock:
                self.under_way -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_the_app_stops_only_after_its_store_calls_return(tmp_path: Path) -> None:
    settings = ServerSettings(database_url=f"sqlite:///{tmp_path / 's.db'}",
                              maintenance_seconds=0.1)
    inner = open_store(settings.database_url)
    store = SlowStore(inner)
    try:
        with TestClient(create_app(settings, store)):  # type: ignore[arg-type]
            assert store.started.wait(5)
        assert store.under_way == 0
    finally:
        inner.close()
