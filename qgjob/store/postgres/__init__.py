"""The shared store: PostgreSQL, for several server replicas on one queue."""

from __future__ import annotations

from qgjob.store.base import WakeUp
from qgjob.store.postgres.database import PostgresDatabase
from qgjob.store.postgres.replicas import MaintenanceLeader, WorkListener
from qgjob.store.sql.store import SqlStore


class PostgresStore(SqlStore):
    def __init__(self, url: str) -> None:
        self._pg = PostgresDatabase(url)
        super().__init__(self._pg)
        self._leader = MaintenanceLeader(self._pg)
        self._listeners: list[WorkListener] = []

    def leads_maintenance(self) -> bool:
        return self._leader.is_leader()

    def watch_work(self, wake: WakeUp) -> None:
        self._listeners.append(WorkListener(self._pg, wake))

    def close(self) -> None:
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()
        self._leader.close()
        super().close()


__all__ = ["PostgresStore"]
