"""Waking idle devices the moment work appears, so a job handed to an idle device starts within
milliseconds. Each waiting claim registers here; a submit wakes as many waiters of the job's
target as it made jobs, those already holding the job's app first (no reinstall)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Waiter:
    target: str
    holds_app_version_id: str | None
    woken: asyncio.Event = field(default_factory=asyncio.Event)


class ClaimWaiters:
    """Waiting claims of one server process. Call only from its event loop."""

    def __init__(self) -> None:
        self._by_target: dict[str, list[_Waiter]] = {}

    @contextmanager
    def waiting(self, target: str, holds_app_version_id: str | None) -> Iterator[asyncio.Event]:
        """Register before looking for work (so no wake-up falls between the look and the
        wait); the event is set when work for `target` may have appeared."""
        waiter = _Waiter(target, holds_app_version_id)
        self._by_target.setdefault(target, []).append(waiter)
        try:
            yield waiter.woken
        finally:
            waiters = self._by_target.get(target, [])
            if waiter in waiters:
                waiters.remove(waiter)

    def notify(self, target: str, app_version_id: str | None, count: int) -> int:
        """Wake up to `count` waiters of `target`; returns how many were woken."""
        waiters = [w for w in self._by_target.get(target, []) if not w.woken.is_set()]
        waiters.sort(key=lambda w: w.holds_app_version_id != app_version_id)
        chosen = waiters[:count]
        for waiter in chosen:
            waiter.woken.set()
        return len(chosen)

    def wake_all(self) -> None:
        for waiters in self._by_target.values():
            for waiter in waiters:
                waiter.woken.set()

    def waiting_count(self, target: str | None = None) -> int:
        if target is not None:
            return len(self._by_target.get(target, []))
        return sum(len(w) for w in self._by_target.values())
