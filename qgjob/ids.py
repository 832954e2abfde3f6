"""Identifiers that sort by creation time (like ULIDs), so "newest first" needs no extra key."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32, lower case
_RANDOM_CHARS = 16
_CHAR_OF_BYTE = bytes.maketrans(bytes(range(256)), (_ALPHABET * 8).encode())
"""A random byte's low 5 bits pick a character: 256 is a multiple of 32, so each is equally
likely."""


def new_id(now: float | None = None) -> str:
    """26 characters: 48 bits of milliseconds since the epoch (10 characters), then 80 random
    bits (16)."""
    return new_ids(1, now)[0]


def new_ids(count: int, now: float | None = None) -> list[str]:
    """`count` ids of one moment, with one read of the random source for all of them."""
    millis = int((time.time() if now is None else now) * 1000) % (1 << 48)
    prefix = "".join(_ALPHABET[(millis >> shift) & 31] for shift in range(45, -1, -5))
    noise = os.urandom(_RANDOM_CHARS * count).translate(_CHAR_OF_BYTE).decode("ascii")
    return [prefix + noise[at:at + _RANDOM_CHARS]
            for at in range(0, len(noise), _RANDOM_CHARS)]
