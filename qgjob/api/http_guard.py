"""Connections before they are requests: what uvicorn leaves open.

uvicorn closes a keep-alive connection left idle after a response, but not one that never
sends a byte, nor one that sends its headers a byte at a time (slowloris): each holds a file
descriptor for ever, and no token is needed to open them. Enough of them and accept() fails
for everyone, /health and submits time out, and asyncio logs every failed accept.

`GuardedH11Protocol` (uvicorn's own h11 protocol, with three additions) therefore
- closes a connection idle before its first request as uvicorn closes one idle between two
  (`http_idle_seconds`);
- closes one whose request head has not arrived within `http_header_seconds` of its first
  byte, however slowly the bytes keep coming (408), and one whose request body stalls, no
  byte of it for `http_body_seconds`, while the server waits for it (408: a body that stops
  halfway would otherwise hold its connection, and the handler awaiting it, for ever; a
  client waiting for "100 Continue", or a body the handler has not read yet, is not one);
- refuses a connection beyond `max_connections` at once (503, closed), a cap kept below the
  descriptor limit so that accept() itself never runs out.
Refusals and failed accepts are logged once per interval with a count, never per accept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
from dataclasses import dataclass, field
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("qgjob.server")

LISTEN_BACKLOG = 256
"""Connections the kernel queues for accept(), and so also how many asyncio accepts in one
turn of the loop before any of them is counted against the cap."""
RESERVED_DESCRIPTORS = 100 + LISTEN_BACKLOG
"""Descriptors kept for everything but open client connections: one loop turn's accepts
(refused ones close a moment later), database files and connections, logs."""
LOG_INTERVAL_SECONDS = 10.0

_BUSY_BODY = b'{"detail": "the server has too many open connections; try again"}'
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
         b"retry-after: 1\r\nconnection: close\r\n"
         b"content-length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY))
_SLOW_HEAD = (b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n"
              b"content-length: 0\r\n\r\n")
_ACCEPT_FAILED = "socket.accept() out of system resource"


class IntervalLog:
    """Says a recurring event once per interval: the first time at once, then how many more
    happened by the end of each interval that had any."""

    def __init__(self, what: str, interval: float = LOG_INTERVAL_SECONDS) -> None:
        self.what = what
        self.interval = interval
        self._more = 0
        self._detail = ""
        self._report: asyncio.TimerHandle | None = None

    def note(self, loop: asyncio.AbstractEventLoop, detail: str) -> None:
        self._detail = detail
        if self._report is None:
            log.warning("%s: %s", self.what, detail)
            self._report = loop.call_later(self.interval, self._say_more, loop)
        else:
            self._more += 1

    def _say_more(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._more == 0:
            self._report = None
            return
        log.warning("%s %d more times in the last %g s: %s", self.what, self._more,
                    self.interval, self._detail)
        self._more = 0
        self._report = loop.call_later(self.interval, self._say_more, loop)


@dataclass
class ConnectionGuard:
    max_connections: int
    header_seconds: float
    body_seconds: float = 30.0
    refusals: IntervalLog = field(
        default_factory=lambda: IntervalLog("refused a connection"))
    accept_failures: IntervalLog = field(
        default_factory=lambda: IntervalLog("cannot accept connections"))

    def watch_accept_errors(self, loop: asyncio.AbstractEventLoop) -> None:
        """asyncio logs a failed accept (descriptors exhausted) with a traceback each time,
        up to a backlog's worth per loop turn; say it once per interval instead."""
        default = loop.get_exception_handler()

        def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            if context.get("message") == _ACCEPT_FAILED:
                self.accept_failures.note(loop, f"{context.get('exception')}; "
                                                f"{_descriptor_use()}")
            elif default is not None:
                default(loop, context)
            else:
                loop.default_exception_handler(context)

        loop.set_exception_handler(handle)


class GuardedH11Protocol(H11Protocol):
    guard: ClassVar[ConnectionGuard]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._body_deadline: asyncio.TimerHandle | None = None
        self._body_byte_at = 0.0
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.guard.max_connections:
            self._refused = True
            transport.write(_BUSY)
            transport.close()
            self.guard.refusals.note(self.loop, f"{len(self.connections)} connections are "
                                                "open, the most the server keeps")
            return
        super().connection_made(transport)
        # Idle until the first byte is idle like between two requests: uvicorn's keep-alive
        # timer closes it, and the first byte cancels it.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_deadline()
        self._stop_body_deadline()
        if not self._refused:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        # Their side IDLE after bytes arrived: a request head is incomplete. The deadline
        # runs from its first byte; later bytes do not extend it.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self._head_deadline is None:
                self._head_deadline = self.loop.call_later(
                    self.guard.header_seconds, self._head_too_slow)
        else:
            self._stop_head_deadline()
        # A body under way: its stall deadline counts from its latest byte (one timer per
        # body, moved on when it fires early, not one per chunk); a complete one stops it.
        if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
            self._body_byte_at = self.loop.time()
            if self._body_deadline is None:
                self._body_deadline = self.loop.call_later(
                    self.guard.body_seconds, self._body_stalled)
        else:
            self._stop_body_deadline()

    def _body_stalled(self) -> None:
        self._body_deadline = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        # The handler has not read what came, or the client waits for "100 Continue" (sent
        # when the handler first reads): not the client's stall.
        if self.flow.read_paused or self.conn.they_are_waiting_for_100_continue:
            self._body_byte_at = self.loop.time()
        quiet = self.loop.time() - self._body_byte_at
        if quiet < self.guard.body_seconds:
            self._body_deadline = self.loop.call_later(
                self.guard.body_seconds - quiet, self._body_stalled)
            return
        if self.conn.our_state is h11.SEND_RESPONSE:  # nothing answered yet
            self.transport.write(_SLOW_HEAD)
        self.transport.close()

    def _stop_body_deadline(self) -> None:
        _cancel(self._body_deadline)
        self._body_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.write(_SLOW_HEAD)
            self.transport.close()

    def _stop_head_deadline(self) -> None:
        _cancel(self._head_deadline)
        self._head_deadline = None


def _cancel(deadline: asyncio.TimerHandle | None) -> None:
    """Cancel a connection's deadline, if one is set."""
    if deadline is not None:
        deadline.cancel()


def guarded_protocol(guard: ConnectionGuard) -> type[GuardedH11Protocol]:
    """The protocol class uvicorn builds each connection from, bound to one server's guard."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"guard": guard})


def connection_cap(wanted: int) -> int:
    """How many connections fit under the descriptor limit, after raising the soft limit as
    far as `wanted` needs (and the hard limit allows)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + RESERVED_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        with contextlib.suppress(ValueError, OSError):  # not allowed: keep the limit there is
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_DESCRIPTORS))


def _descriptor_use() -> str:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return f"the descriptor limit is {soft} (raise LimitNOFILE, or lower QGJOB_MAX_CONNECTIONS)"
