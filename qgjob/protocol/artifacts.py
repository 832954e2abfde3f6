"""Failure evidence on the wire: which files an agent may upload (an allow-list of
extensions, each with the one content type it is served with), the order they are kept in
when an attempt's cap is reached, and what `GET /jobs/{id}/artifacts` answers."""

from __future__ import annotations

from pydantic import BaseModel, Field

ARTIFACT_TYPES: dict[str, tuple[str, str]] = {
    ".png": ("image/png", "screenshot"),
    ".jpg": ("image/jpeg", "screenshot"),
    ".jpeg": ("image/jpeg", "screenshot"),
    ".zip": ("application/zip", "trace"),
    ".webm": ("video/webm", "video"),
    ".mp4": ("video/mp4", "video"),
    ".txt": ("text/plain", "attachment"),
    ".log": ("text/plain", "attachment"),
    ".json": ("application/json", "attachment"),
}
"""Extension -> (content type, kind). Anything else is refused (an HTML or SVG file would
be script on the API's origin)."""
KEEP_ORDER = ("screenshot", "trace", "video", "attachment")
"""Over the cap, what is kept first: screenshots say the most per byte, videos the least."""


class ArtifactPublic(BaseModel):
    name: str
    media_type: str
    kind: str = Field(description="`screenshot`, `video`, `trace` or `attachment`")
    size: int
    test: str | None = Field(None, description="the test that left it, when known")
    url: str


class DroppedPublic(BaseModel):
    name: str
    size: int = Field(description="its declared length; sent without one (chunked), the bytes "
                                  "that came before it was refused")
    reason: str
    test: str | None = None


class AttemptArtifactsPublic(BaseModel):
    attempt: int
    created_at: str
    size: int
    files: list[ArtifactPublic]
    dropped: list[DroppedPublic] = Field(description="files not kept, and why (over the cap); "
                                                     "the first 50")
    dropped_more: int = Field(0, description="files not kept after the first 50, counted "
                                             "but not listed")


class ArtifactList(BaseModel):
    attempts: list[AttemptArtifactsPublic]
    attempt_max_bytes: int
    retention_days: float
