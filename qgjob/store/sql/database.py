"""The seam between the store's logic (one, in qgjob/store/sql/) and each SQL dialect: a
dialect gives transactions over its connections, its named queries, its migrations, and the
few pieces of SQL the logic builds itself."""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, ParamSpec, Protocol, TypeVar

from qgjob.store.base import WriteRefusal

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
RETRIES = 8


class TransientConflict(Exception):
    """The database aborted a transaction because of a concurrent one (a deadlock, a
    serialization failure); running it again is safe and will most likely succeed."""


def retried(method: Callable[P, R]) -> Callable[P, R]:
    """Run a store method again when its transaction hit a TransientConflict. Store methods
    are whole transactions whose decisions are pure functions of what they read, so a rerun
    decides afresh on fresh rows."""

    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(1, RETRIES + 1):
            try:
                return method(*args, **kwargs)
            except TransientConflict as conflict:
                if attempt == RETRIES:
                    raise
                log.info("%s: %s; running it again", method.__name__, conflict)
                time.sleep(random.uniform(0, 0.002 * 2 ** attempt))
        raise AssertionError("unreachable")

    return run


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Tx:
    """One transaction: named queries of the dialect, and helpers for the little SQL the
    store builds itself (the job listing's optional filters)."""

    def __init__(self, raw: Any, queries: Mapping[str, str], *,
                 placeholder: Callable[[str], str], in_list: Callable[[str, str], str],
                 array: Callable[[Sequence[Any]], Any],
                 many: Callable[[Any, str, Sequence[Mapping[str, Any]]], int] | None = None
                 ) -> None:
        self.raw = raw
        self._queries = queries
        self._placeholder = placeholder
        self._in_list = in_list
        self._array = array
        self._many = many or _executemany

    def run(self, name: str, params: Mapping[str, Any] | None = None) -> Cursor:
        cursor: Cursor = self.raw.execute(self._queries[name], params or {})
        return cursor

    def run_many(self, name: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """The named statement once per row of parameters; how many rows it changed."""
        return self._many(self.raw, self._queries[name], rows)

    def run_sql(self, sql: str, params: Mapping[str, Any]) -> Cursor:
        cursor: Cursor = self.raw.execute(sql, params)
        return cursor

    def param(self, name: str) -> str:
        return self._placeholder(name)

    def in_list(self, column: str, name: str) -> str:
        """`column` is one of the values of the array parameter `name`."""
        return self._in_list(column, name)

    def array(self, values: Sequence[Any]) -> Any:
        """A list parameter, encoded as the dialect takes it."""
        return self._array(values)


def _executemany(raw: Any, sql: str, rows: Sequence[Mapping[str, Any]]) -> int:
    cursor = raw.cursor()
    cursor.executemany(sql, rows)
    return int(cursor.rowcount)


class Database(Protocol):
    dialect: str

    def write(self) -> AbstractContextManager[Tx]:
        """A read-write transaction, committed when the block ends, rolled back if it raises."""
        ...

    def read(self) -> AbstractContextManager[Tx]:
        """A read-only transaction: one consistent snapshot for the block."""
        ...

    def migrate(self) -> None: ...
    def schema_version(self) -> int: ...
    def ping(self) -> None: ...
    def write_refusal(self) -> WriteRefusal | None: ...
    def close(self) -> None: ...
