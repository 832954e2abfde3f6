"""Watching the system live: Prometheus metrics and the dashboard's change events."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse

from qgjob.api.deps import Caller, DashboardReader, FeedDep, ServiceDep
from qgjob.metrics import CONTENT_TYPE

router = APIRouter(tags=["observability"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}},
                             "description": "Prometheus text format"}})
async def metrics(service: ServiceDep, _: DashboardReader) -> Response:
    """Queue depth, jobs, agents and devices (read at scrape time), claim latency, attempt
    and install durations, installs. An admin token (Prometheus sends it as a bearer token),
    or none with QGJOB_PUBLIC_DASHBOARD=true."""
    body = await to_thread.run_sync(service.metrics.exposition)
    return Response(body, media_type=CONTENT_TYPE)


@router.get("/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "server-sent events"}})
async def events(feed: FeedDep, _: Caller) -> StreamingResponse:
    """A `change` event whenever jobs, devices, installs or agents changed or a run was
    cancelled (checked about once a second): a dashboard fetches what it shows again."""
    return StreamingResponse(feed.stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
