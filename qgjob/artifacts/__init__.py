"""Failure evidence: the screenshots, videos, traces and other attachments a failed test
left, kept per attempt under a size cap and for a retention period, outside the database."""

from qgjob.artifacts.base import (
    DROP_TEST_MAX,
    DROPS_LISTED,
    FILES_KEPT,
    ArtifactEntry,
    ArtifactRefused,
    ArtifactStore,
    AttemptArtifacts,
    DroppedArtifact,
    artifact_type,
)
from qgjob.artifacts.directory import DirectoryArtifactStore

__all__ = ["DROPS_LISTED", "DROP_TEST_MAX", "FILES_KEPT", "ArtifactEntry", "ArtifactRefused",
           "ArtifactStore", "AttemptArtifacts", "DirectoryArtifactStore", "DroppedArtifact",
           "artifact_type"]
