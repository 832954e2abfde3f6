"""Page cursors: the position of the last item of a page, as opaque URL-safe text. Each
listing says what the position holds and checks it when a cursor comes back."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

NOT_OURS = "cursor: not one this server gave out"


def pack_cursor(position: list[Any]) -> str:
    text = json.dumps(position, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def unpack_cursor(cursor: str, size: int) -> list[Any]:
    """The `size` values `pack_cursor` wrote; ValueError (`NOT_OURS`) for anything else."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError) as bad:
        raise ValueError(NOT_OURS) from bad
    if not isinstance(values, list) or len(values) != size:
        raise ValueError(NOT_OURS)
    return values


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
