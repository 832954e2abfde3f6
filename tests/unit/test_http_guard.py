"""Failed accepts are said once per interval, with a count, and other loop errors as before."""

from __future__ import annotations

import asyncio
import logging

import pytest

from qgjob.api.http_guard import ConnectionGuard, IntervalLog

ACCEPT_FAILED = {"message": "socket.accept() out of system resource",
                 "exception": OSError(24, "Too many open files")}


def test_failed_accepts_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    guard = ConnectionGuard(100, 1.0, accept_failures=IntervalLog("cannot accept", 0.05))

    async def flood() -> None:
        loop = asyncio.get_running_loop()
        guard.watch_accept_errors(loop)
        for _ in range(2000):  # what one loop turn can log with a backlog of 2,048
            loop.call_exception_handler(ACCEPT_FAILED)
        await asyncio.sleep(0.2)  # the interval ends; a quiet one says nothing
        loop.call_exception_handler(ACCEPT_FAILED)

    with caplog.at_level(logging.WARNING, logger="qgjob.server"):
        asyncio.run(flood())
    lines = [r.getMessage() for r in caplog.records if r.name == "qgjob.server"]
    assert len(lines) == 3, lines
    assert lines[0].startswith("cannot accept: [Errno 24] Too many open files")
    assert lines[1].startswith("cannot accept 1999 more times in the last 0.05 s: [Errno 24]")
    assert lines[2].startswith("cannot accept: [Errno 24]")  # a new episode, said at once


def test_other_loop_errors_reach_the_handler_there_was() -> None:
    seen: list[str] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _, context: seen.append(context["message"]))
        ConnectionGuard(100, 1.0).watch_accept_errors(loop)
        loop.call_exception_handler({"message": "something else"})

    asyncio.run(run())
    assert seen == ["something else"]
