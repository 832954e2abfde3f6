"""Page cursors: the position of the last item of a page, as opaque URL-safe text. Each
listing says what the position holds and checks it when a cursor comes back.

A cursor is not signed: replicas would need a shared secret for that, and it would protect
nothing. A listing applies its filters and the caller's org whatever the cursor says, so a
forged one can only move where a page of what the caller may see anyway begins. What a
cursor must never do is carry a value the database cannot take (an integer past 64 bits, NaN,
a lone surrogate, a NUL): every value is checked here, by type and range, before it reaches
SQL, and anything else is `NOT_OURS` (a 422 `bad_cursor`)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, NoReturn

from qgjob.domain import values

NOT_OURS = "cursor: not one this server gave out"
TIME_MAX = 2.0 ** 53
"""A cursor's times are seconds since the epoch; anything past this (the largest integer a
double holds exactly, some 285 million years) is no time this server wrote."""
_ID = re.compile(values.NAME_PATTERN)


def pack_cursor(position: list[Any]) -> str:
    text = json.dumps(position, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def unpack_cursor(cursor: str, size: int) -> list[Any]:
    """The `size` values `pack_cursor` wrote; ValueError (`NOT_OURS`) for anything else.
    The values are JSON's, unchecked: the caller checks each one (`cursor_int`,
    `cursor_time`, `cursor_id`)."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(text, parse_constant=_not_ours)  # NaN, Infinity
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError) as bad:
        raise ValueError(NOT_OURS) from bad
    if not isinstance(position, list) or len(position) != size:
        raise ValueError(NOT_OURS)
    return position


def cursor_int(value: Any, low: int, high: int) -> int:
    """An integer of a cursor, within [low, high] (a boolean is none)."""
    if type(value) is not int or not low <= value <= high:
        raise ValueError(NOT_OURS)
    return value


def cursor_time(value: Any) -> float:
    """A time of a cursor: a finite number, 0 to `TIME_MAX`."""
    if not is_number(value) or not 0 <= value <= TIME_MAX:  # NaN and infinities too
        raise ValueError(NOT_OURS)
    return float(value)


def cursor_id(value: Any) -> str:
    """An id of a cursor (a job's, a run's): as the API's paths take ids."""
    if not isinstance(value, str) or len(value) > values.NAME_MAX \
            or not _ID.fullmatch(value):
        raise ValueError(NOT_OURS)
    return value


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _not_ours(_: str) -> NoReturn:
    raise ValueError(NOT_OURS)
