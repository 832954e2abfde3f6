"""Failure evidence on the wire: what `GET /jobs/{id}/artifacts` answers."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ArtifactPublic(BaseModel):
    name: str
    media_type: str
    kind: str = Field(description="`screenshot`, `video`, `trace` or `attachment`")
    size: int
    test: str | None = Field(None, description="the test that left it, when known")
    url: str


class DroppedPublic(BaseModel):
    name: str
    size: int
    reason: str
    test: str | None = None


class AttemptArtifactsPublic(BaseModel):
    attempt: int
    created_at: str
    size: int
    files: list[ArtifactPublic]
    dropped: list[DroppedPublic] = Field(description="files not kept, and why (over the cap)")


class ArtifactList(BaseModel):
    attempts: list[AttemptArtifactsPublic]
    attempt_max_bytes: int
    retention_days: float
