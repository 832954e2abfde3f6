"""The default artifact store: plain files under one directory, DIR/<job>/<attempt>/, each
attempt with a small manifest (`.manifest.json`: what is kept, what was dropped and why).
No database rows, so several replicas can share it over a common mount.

A file is written under a temporary name and renamed, and the manifest likewise, so a
reader never sees half a file. One agent uploads an attempt's files one after another, so a
lock per process is enough for the manifest's read-modify-write."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from qgjob.artifacts.base import (
    DROPS_LISTED,
    FILES_KEPT,
    ArtifactEntry,
    ArtifactRefused,
    AttemptArtifacts,
    DroppedArtifact,
    artifact_type,
    check_place,
)

log = logging.getLogger("qgjob.evidence")

MANIFEST = ".manifest.json"
"""Starts with a dot: no uploaded name can (the name pattern forbids it)."""


class DirectoryArtifactStore:
    def __init__(self, root: Path, attempt_max_bytes: int,
                 attempt_max_files: int = FILES_KEPT) -> None:
        self.root = Path(root)
        self.attempt_max_bytes = attempt_max_bytes
        self.attempt_max_files = attempt_max_files
        self._lock = threading.Lock()

    def save(self, job_id: str, attempt: int, name: str, content: bytes, *,
             test: str | None, now: float) -> ArtifactEntry:
        media_type, kind = artifact_type(name)
        with self._lock, _storage_errors():
            manifest = self._load(job_id, attempt, now)
            others = [f for f in manifest.files if f.name != name]
            reason = self._over_cap(others, len(content))
            if reason is not None:
                self._write(job_id, attempt, manifest.with_drop(
                    DroppedArtifact(name, len(content), reason, test)))
                raise ArtifactRefused(f"{name}: {reason}", "artifact_over_cap", 413)
            folder = self._folder(job_id, attempt)
            folder.mkdir(parents=True, exist_ok=True)
            _write_atomic(folder / name, content)
            entry = ArtifactEntry(name, media_type, kind, len(content), test)
            self._write(job_id, attempt, replace(manifest, files=(*others, entry)))
            return entry

    def _over_cap(self, others: list[ArtifactEntry], size: int) -> str | None:
        """Why a file of `size` bytes does not fit beside `others`, or None if it does."""
        if len(others) >= self.attempt_max_files:
            return f"over the attempt's cap of {self.attempt_max_files} files"
        used = sum(f.size for f in others)
        if used + size > self.attempt_max_bytes:
            return f"over the attempt's cap of {self.attempt_max_bytes} bytes ({used} already kept)"
        return None

    def drop(self, job_id: str, attempt: int, name: str, size: int, reason: str, *,
             test: str | None, now: float) -> None:
        artifact_type(name)
        with self._lock, _storage_errors():
            manifest = self._load(job_id, attempt, now)
            self._write(job_id, attempt,
                        manifest.with_drop(DroppedArtifact(name, size, reason, test)))

    def room(self, job_id: str, attempt: int) -> int:
        check_place(job_id, attempt)
        used = self._load(job_id, attempt, 0.0).size
        return max(0, self.attempt_max_bytes - used)

    def attempts(self, job_id: str) -> list[AttemptArtifacts]:
        check_place(job_id, 1)
        folder = self.root / job_id
        if not folder.is_dir():
            return []
        numbers = sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())
        found = [self._load(job_id, n, 0.0) for n in numbers]
        return [m for m in found if m.files or m.dropped or m.dropped_more]

    def read(self, job_id: str, attempt: int, name: str) -> tuple[ArtifactEntry, bytes] | None:
        artifact_type(name)
        manifest = self._load(job_id, attempt, 0.0)
        entry = next((f for f in manifest.files if f.name == name), None)
        if entry is None:
            return None
        try:
            return entry, (self._folder(job_id, attempt) / name).read_bytes()
        except FileNotFoundError:  # swept between the manifest and the file
            return None

    def sweep(self, before: float) -> int:
        if not self.root.is_dir():
            return 0
        removed = 0
        for job in list(self.root.iterdir()):
            for attempt in list(job.iterdir()) if job.is_dir() else []:
                if _stored_at(attempt) < before:
                    shutil.rmtree(attempt, ignore_errors=True)
                    removed += 1
            with contextlib.suppress(OSError):
                job.rmdir()  # only once empty
        return removed

    def _folder(self, job_id: str, attempt: int) -> Path:
        check_place(job_id, attempt)
        return self.root / job_id / str(attempt)

    def _load(self, job_id: str, attempt: int, now: float) -> AttemptArtifacts:
        try:
            raw = json.loads((self._folder(job_id, attempt) / MANIFEST).read_text())
        except (OSError, ValueError):
            return AttemptArtifacts(attempt, now)
        dropped = [DroppedArtifact(**d) for d in raw.get("dropped", [])]
        # A manifest written before drops were bounded may list more: count the rest.
        return AttemptArtifacts(
            attempt, float(raw.get("created_at", now)),
            tuple(ArtifactEntry(**f) for f in raw.get("files", [])),
            tuple(dropped[:DROPS_LISTED]),
            int(raw.get("dropped_more", 0)) + max(0, len(dropped) - DROPS_LISTED))

    def _write(self, job_id: str, attempt: int, manifest: AttemptArtifacts) -> None:
        folder = self._folder(job_id, attempt)
        folder.mkdir(parents=True, exist_ok=True)
        body: dict[str, Any] = asdict(manifest)
        body["job_id"] = job_id
        _write_atomic(folder / MANIFEST, json.dumps(body, indent=1).encode())


@contextlib.contextmanager
def _storage_errors() -> Iterator[None]:
    """The folder failing under a write (a full disk, a lost mount, permissions changed
    since the start) is the server's trouble, said as such (507 when out of space, else 503),
    not a traceback: the agent's upload is refused, its result is not."""
    try:
        yield
    except OSError as failed:
        full = failed.errno in (errno.ENOSPC, errno.EDQUOT)
        log.warning("cannot store evidence: %s", failed)
        raise ArtifactRefused(
            f"the server cannot store evidence now: {failed.strerror or failed}",
            "artifact_storage_full" if full else "artifact_storage_unavailable",
            507 if full else 503) from None


def _write_atomic(path: Path, content: bytes) -> None:
    scratch = path.with_name(f".part-{os.getpid()}-{threading.get_ident()}-{path.name}")
    try:
        scratch.write_bytes(content)
        os.replace(scratch, path)
    except OSError:
        scratch.unlink(missing_ok=True)  # a half-written file is no evidence
        raise


def _stored_at(attempt: Path) -> float:
    """When the attempt's evidence was first stored: its manifest says; a folder without one
    (a crash before the first manifest) counts from its last change."""
    try:
        return float(json.loads((attempt / MANIFEST).read_text())["created_at"])
    except (OSError, ValueError, KeyError, TypeError):
        try:
            return attempt.stat().st_mtime
        except OSError:
            return float("inf")
