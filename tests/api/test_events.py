"""Live updates: the change feed behind `GET /events`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from qgjob.api.events import ChangeFeed
from tests.api.test_agent_protocol import JOB
from tests.conftest import LiveServer


class Marker:
    """A change marker the test moves by hand, counting how often it is read."""

    def __init__(self) -> None:
        self.value = 0
        self.reads = 0

    async def __call__(self) -> int:
        self.reads += 1
        return self.value


async def next_event(events: AsyncIterator[str]) -> str:
    while not (chunk := await anext(events)).startswith("event:"):
        pass
    return chunk


@pytest.mark.anyio
async def test_a_stream_hears_every_move_of_the_marker_and_ends_on_close() -> None:
    marker = Marker()
    feed = ChangeFeed(marker, interval=0.01)
    events = feed.stream()
    assert await anext(events) == "retry: 2000\n\n"
    assert await next_event(events) == "event: change\ndata: 0\n\n"
    assert await next_event(events) == "event: change\ndata: 1\n\n"  # the first reading
    marker.value = 7
    assert await next_event(events) == "event: change\ndata: 2\n\n"
    feed.close()
    with pytest.raises(StopAsyncIteration):
        await next_event(events)
    assert feed.listeners == 0


@pytest.mark.anyio
async def test_nobody_listening_means_no_reads() -> None:
    marker = Marker()
    feed = ChangeFeed(marker, interval=0.01)
    events = feed.stream()
    await next_event(events)
    await next_event(events)
    await events.aclose()  # the client went away
    assert feed.listeners == 0
    while feed.ticking:  # the ticker notices at its next turn and stops
        await asyncio.sleep(0.01)
    reads = marker.reads
    await asyncio.sleep(0.05)
    assert marker.reads == reads
    await feed.aclose()


@pytest.mark.anyio
async def test_a_closed_feed_refuses_new_streams() -> None:
    feed = ChangeFeed(Marker())
    feed.close()
    assert [chunk async for chunk in feed.stream()] == ["retry: 2000\n\n"]


@pytest.mark.anyio
async def test_a_failing_probe_is_survived() -> None:
    async def broken() -> int:
        raise OSError("disk I/O error")

    feed = ChangeFeed(broken)
    await feed.check()
    assert feed.version == 0


def test_a_submission_reaches_an_open_stream(live_server: LiveServer) -> None:
    feed = live_server.server.config.app.state.events
    with httpx.stream("GET", f"{live_server.url}/events", timeout=20) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        versions = []
        while len(versions) < 2:  # the version on connecting, then the first reading
            line = next(lines)
            if line.startswith("data:"):
                versions.append(int(line.removeprefix("data: ")))
        httpx.post(f"{live_server.url}/jobs", json=JOB).raise_for_status()
        while not (line := next(lines)).startswith("data:"):
            pass
        assert int(line.removeprefix("data: ")) > versions[-1]
    while feed.listeners:  # the server notices the client left
        time.sleep(0.01)
