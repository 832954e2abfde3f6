"""Dependencies, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from qgjob.service import JobService


def get_service(request: Request) -> JobService:
    service: JobService = request.app.state.service
    return service


ServiceDep = Annotated[JobService, Depends(get_service)]
