"""Streaming a running test's output to the server: executors write text, a background task
sends it in chunks every `flush_seconds` (or when `flush_chars` pile up), and whatever could
not be sent yet is kept (at most the last `keep_chars`) and sent on the next try.

Each chunk says its offset: how many characters were sent before it. A chunk whose answer was
lost is sent again at the same offset, and the server keeps only what it does not hold yet, so
a block of output never appears twice. A server that holds less than was sent (it refuses a
chunk past its end, with `OutputGap`) gets the pending output again from where its own ends,
so nothing still held here is lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("qgjob.agent")

CHUNK_CHARS = 32 * 1024
"""Characters sent in one chunk: well under what the server takes (`OUTPUT_CHUNK_MAX` of
qgjob.protocol.limits), as a chunk's JSON may be longer than its text."""


class OutputStream:
    def __init__(
        self,
        send: Callable[[str, int], Awaitable[None]],
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
        self._sent = 0
        """Characters the server acknowledged: the offset of the first pending one."""
        self._cut = 0
        """Characters dropped from the front of `_pending` to keep it under `keep_chars`."""
        self._closing = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.refused = False
        """The server refused the output (the job left its lease): stop sending."""

    def write(self, text: str) -> None:
        if not text or self.refused:
            return
        pending = self._pending + text
        self._cut += max(len(pending) - self._keep_chars, 0)
        self._pending = pending[-self._keep_chars:]
        if len(self._pending) >= self._flush_chars:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump())

    async def close(self, carry_chars: int = 0) -> tuple[str, int]:
        """Send what is left, except a last `carry_chars` characters or fewer, which are
        returned with their offset for the report to carry (one request per job fewer); call
        before reporting the attempt."""
        if self._task is not None:
            # Let a send in flight finish rather than cancel it: a cancelled send may have
            # reached the server, and its chunk would be sent again.
            self._closing = True
            self._wake.set()
            await self._task
        await self._flush(leave=carry_chars)
        tail = "" if self.refused or not carry_chars else self._pending[-carry_chars:]
        offset = self._sent + len(self._pending) - len(tail)
        self._pending = ""
        return tail, offset

    async def _pump(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_seconds)
            self._wake.clear()
            if not self._closing:
                await self._flush()

    async def _flush(self, leave: int = 0) -> None:
        while len(self._pending) > leave and not self.refused:
            chunk = self._pending[:min(CHUNK_CHARS, len(self._pending) - leave)]
            cut_before = self._cut
            try:
                await self._send(chunk, self._sent)
            except _Refused:
                self.refused = True
                return
            except OutputGap as gap:
                if gap.next_offset >= self._sent:  # not a gap this stream made: try later
                    log.debug("output not sent yet: %s", gap)
                    return
                self._sent = gap.next_offset  # what was sent past it is gone: go on from there
                continue
            except Exception as problem:  # keep it for the next try
                log.debug("output not sent yet: %s", problem)
                return
            # `write` may have dropped some of the chunk from the front while it was sent.
            self._pending = self._pending[max(len(chunk) - (self._cut - cut_before), 0):]
            self._sent += len(chunk)


class _Refused(Exception):
    pass


class OutputGap(Exception):
    """The server refused a chunk that starts past the output it holds (`next_offset`
    characters)."""

    def __init__(self, detail: str, next_offset: int) -> None:
        super().__init__(detail)
        self.next_offset = next_offset


def refusing(send: Callable[[str, int], Awaitable[None]],
             refused: tuple[type[Exception], ...]) -> Callable[[str, int], Awaitable[None]]:
    """`send`, with the exceptions that mean "stop sending" turned into a stop."""
    async def guarded(text: str, offset: int) -> None:
        try:
            await send(text, offset)
        except refused as stop:
            raise _Refused(str(stop)) from stop

    return guarded
