"""Whether the database takes writes: what an operator reads on /health when a disk is full.

Each write transaction reports here how it ended. A refused one (the dialect says which errors
mean refused: disk full, I/O errors, read-only) starts a refusal; a probe, a small write that
surely reaches the disk, ends it. While a refusal lasts, the probe runs (at most every
`PROBE_SECONDS`) whenever /health asks or another transaction commits, so it ends soon after
the disk has room again, even when no client writes. A refusal is logged once when it starts
and once when it ends, not per request: while it lasts every write of every client fails
alike."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from qgjob.store.base import StoreUnavailable, WriteRefusal, WritesRefused

log = logging.getLogger("qgjob.store")
PROBE_SECONDS = 1.0


class WriteWatch:
    def __init__(self, probe: Callable[[], None], clock: Callable[[], float] = time.time
                 ) -> None:
        """`probe`: a write transaction that writes to disk and changes nothing anyone
        reads."""
        self._probe = probe
        self._clock = clock
        self._lock = threading.Lock()
        self._refusal: WriteRefusal | None = None
        self._probed_at = 0.0

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Around one write transaction (the dialect raises WritesRefused inside). One that
        commits does not end a refusal by itself: it may have had nothing to write (a
        maintenance pass with nothing to do commits on a full disk too); it has the probe
        run."""
        try:
            yield
        except WritesRefused as refused:
            self._refused(str(refused))
            raise
        if self._refusal is not None:
            self._probe_if_due()

    def refusal(self) -> WriteRefusal | None:
        if self._refusal is not None:
            self._probe_if_due()
        return self._refusal

    def _probe_if_due(self) -> None:
        now = self._clock()
        with self._lock:
            if self._refusal is None or now - self._probed_at < PROBE_SECONDS:
                return
            self._probed_at = now
        try:
            self._probe()
        except StoreUnavailable:  # still refused (or unreachable: said elsewhere)
            return
        with self._lock:
            ended, self._refusal = self._refusal, None
        if ended is not None:
            log.warning("the database takes writes again (it refused them for %.0f s)",
                        self._clock() - ended.since)

    def _refused(self, reason: str) -> None:
        with self._lock:
            if self._refusal is not None:
                return
            self._refusal = WriteRefusal(since=self._clock(), reason=reason)
        log.error("the database refuses writes: %s; answering writes with 503 until one "
                  "succeeds", reason)
