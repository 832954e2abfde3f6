"""Identifiers that sort by creation time (like ULIDs), so "newest first" needs no extra key."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's base32, lower case


def new_id(now: float | None = None) -> str:
    """26 characters: 48 bits of milliseconds since the epoch, then 80 random bits."""
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
