"""Each target's online and idle devices, counted at most once per few seconds per server
process (each replica keeps its own counts).

Counting them reads every device of the target with its agent and drain: at 10,000 devices
the costliest query of a claim, and every claim and many starts needed it. The policy uses
the counts to size batches, to divide a target among orgs by fair share, and to tell whether
an idle device could take urgent work instead of a busy one yielding; a count a few seconds
old serves those as well as an exact one, since whether an agent is online is itself known
only to within the offline timeout (30 s by default), and a device that turns idle asks for
work at once and is then shown the queue as it is.

A change this process makes to which devices take work (a registration, an agent signing off
or marked offline, a drain or undrain, a removal, a device taken out of rotation or put back)
drops its counts, so one server alone never decides on a stale fleet; another replica's change,
an agent heard from again after it was marked offline, and devices turning idle or busy show
within `max_age`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Counts = tuple[int, int]
"""Online devices of a target, and how many of them are idle."""


class DeviceCounts:
    """Counts by target, each kept `max_age` seconds from the `now` it was counted at. Safe
    to share between the threads of one process; one of them counts a target at a time (the
    others use the last count meanwhile, or wait for the first), so claims arriving while a
    slow count runs do not all count again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[float, Counts]] = {}
        self._counting: dict[str, threading.Lock] = {}
        self._generation = 0

    def get(self, target: str, now: float, max_age: float,
            count: Callable[[], Counts]) -> Counts:
        """The target's counts as of at most `max_age` seconds before `now`, else `count()`
        (kept unless the fleet changed meanwhile: a count taken across a change may miss it)."""
        with self._lock:
            kept = self._kept.get(target)
            counting = self._counting.setdefault(target, threading.Lock())
        if kept is not None and abs(now - kept[0]) < max_age:
            return kept[1]
        last = kept[1] if kept is not None and max_age > 0 else None
        if last is not None and not counting.acquire(blocking=False):
            return last  # another thread counts it now
        if last is None:
            counting.acquire()
        try:
            with self._lock:
                kept, generation = self._kept.get(target), self._generation
            if kept is not None and abs(now - kept[0]) < max_age:
                return kept[1]  # counted while this thread waited
            fresh = count()
            with self._lock:
                if generation == self._generation:
                    self._kept[target] = (now, fresh)
            return fresh
        finally:
            counting.release()

    def forget(self) -> None:
        """After this process changed which devices take work."""
        with self._lock:
            self._kept.clear()
            self._generation += 1
