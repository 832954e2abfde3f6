"""Live updates for dashboards: a server-sent event stream that says "something changed".

No open page holds a database connection or a worker thread: one ticker per app probes a
cheap change marker in the store about once a second, only while some page listens, and
wakes every stream when the marker moved. Pages then fetch what they show. Streams end when
their client goes, and all of them end when the server begins to shut down (`close`), so
open dashboards never hold up a Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger("qgjob.server")

RECONNECT_MILLISECONDS = 2000
"""How long a browser waits before reconnecting a dropped stream."""


class ChangeFeed:
    def __init__(self, probe: Callable[[], Awaitable[object]], interval: float = 1.0,
                 keepalive: float = 15.0) -> None:
        self._probe = probe
        self.interval = interval
        self.keepalive = keepalive
        """A comment line this often on a quiet stream, so proxies keep it open."""
        self.version = 0
        self.closed = False
        self.listeners = 0
        self._marker: object = None
        self._moved = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None

    async def stream(self) -> AsyncIterator[str]:
        """`change` events (data: a version number) for as long as the client listens.
        A client counts as listening once it has taken the first line: a `HEAD /events`
        takes the head alone, and its stream is left to the garbage collector."""
        yield f"retry: {RECONNECT_MILLISECONDS}\n\n"
        self.listeners += 1
        try:
            if self.closed:
                return
            self._ensure_ticker()
            seen = self.version
            yield self._event(seen)
            while not self.closed:
                if self.version == seen:  # nothing new since the last event: wait for news
                    try:
                        await asyncio.wait_for(self._moved.wait(), self.keepalive)
                    except TimeoutError:
                        yield ": quiet\n\n"
                    continue
                seen = self.version
                yield self._event(seen)
        finally:
            self.listeners -= 1

    @property
    def ticking(self) -> bool:
        """Whether the ticker runs (it stops once nobody listens)."""
        return self._ticker is not None and not self._ticker.done()

    def close(self) -> None:
        """End every stream now, and refuse new ones."""
        self.closed = True
        self._publish()
        if self._ticker is not None:
            self._ticker.cancel()

    def _event(self, version: int) -> str:
        return f"event: change\ndata: {version}\n\n"

    def _publish(self) -> None:
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    def _ensure_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def _tick(self) -> None:
        while self.listeners > 0 and not self.closed:
            await self.check()
            await asyncio.sleep(self.interval)

    async def check(self) -> None:
        """Probe the marker once; wake every stream if it moved."""
        try:
            marker = await self._probe()
        except Exception as problem:  # the store is down: try again on the next tick
            log.warning("live updates: cannot read the change marker: %s", problem)
            return
        if marker != self._marker:
            self._marker = marker
            self.version += 1
            self._publish()

    async def aclose(self) -> None:
        self.close()
        if self._ticker is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
