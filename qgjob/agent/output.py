"""Streaming a running test's output to the server: executors write text, a background task
sends it in chunks every `flush_seconds` (or when `flush_chars` pile up), and whatever could
not be sent yet is kept (at most the last `keep_chars`) and sent on the next try."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("qgjob.agent")

CHUNK_CHARS = 32 * 1024


class OutputStream:
    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        *,
        flush_seconds: float = 1.0,
        flush_chars: int = 16 * 1024,
        keep_chars: int = 1024 * 1024,
    ) -> None:
        self._send = send
        self._flush_seconds = flush_seconds
        self._flush_chars = flush_chars
        self._keep_chars = keep_chars
        self._pending = ""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.refused = False
        """The server refused the output (the job left its lease): stop sending."""

    def write(self, text: str) -> None:
        if not text or self.refused:
            return
        self._pending = (self._pending + text)[-self._keep_chars:]
        if len(self._pending) >= self._flush_chars:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump())

    async def close(self, carry_chars: int = 0) -> str:
        """Send what is left, except a last `carry_chars` characters or fewer, which are
        returned for the report to carry (one request per job fewer); call before reporting
        the attempt."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._flush(leave=carry_chars)
        tail = "" if self.refused or not carry_chars else self._pending[-carry_chars:]
        self._pending = ""
        return tail

    async def _pump(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_seconds)
            self._wake.clear()
            await self._flush()

    async def _flush(self, leave: int = 0) -> None:
        while len(self._pending) > leave and not self.refused:
            chunk = self._pending[:min(CHUNK_CHARS, len(self._pending) - leave)]
            try:
                await self._send(chunk)
            except _Refused:
                self.refused = True
                return
            except Exception as problem:  # keep it for the next try
                log.debug("output not sent yet: %s", problem)
                return
            self._pending = self._pending[len(chunk):]


class _Refused(Exception):
    pass


def refusing(send: Callable[[str], Awaitable[None]],
             refused: tuple[type[Exception], ...]) -> Callable[[str], Awaitable[None]]:
    """`send`, with the exceptions that mean "stop sending" turned into a stop."""
    async def guarded(text: str) -> None:
        try:
            await send(text)
        except refused as stop:
            raise _Refused(str(stop)) from stop

    return guarded
