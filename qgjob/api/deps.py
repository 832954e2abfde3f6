"""Dependencies, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from qgjob.api.events import ChangeFeed
from qgjob.service import JobService


def get_service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


ServiceDep = Annotated[JobService, Depends(get_service)]


def get_feed(request: Request) -> ChangeFeed:
    feed: ChangeFeed = request.app.state.events
    return feed


FeedDep = Annotated[ChangeFeed, Depends(get_feed)]
