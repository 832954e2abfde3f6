"""Identifiers that sort by creation time (like ULIDs), so "newest first" needs no extra key."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32, lower case


_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]  # 10 bits -> 2 characters
_RANDOM_BYTES = 10


def new_id(now: float | None = None) -> str:
    """26 characters: 48 bits of milliseconds since the epoch, then 80 random bits."""
    return new_ids(1, now)[0]


def new_ids(count: int, now: float | None = None) -> list[str]:
    """`count` ids of one moment, with one read of the random source for all of them."""
    millis = int((time.time() if now is None else now) * 1000) << 80
    noise = os.urandom(_RANDOM_BYTES * count)
    return [_encode(millis | int.from_bytes(noise[at:at + _RANDOM_BYTES], "big"))
            for at in range(0, len(noise), _RANDOM_BYTES)]


def _encode(value: int) -> str:
    pairs = []
    for _ in range(13):
        pairs.append(_PAIRS[value & 1023])
        value >>= 10
    return "".join(reversed(pairs))
