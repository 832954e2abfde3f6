"""Serving what agents uploaded: report files and test output are untrusted content.

An agent runs whatever a test suite does, and its files are served from the API's own origin.
Opened in a browser, an HTML or SVG file would run its script as that origin (with the
dashboard's token in reach where no token is needed). So a file is shown inline only when its
type is one a browser displays without running anything; everything else is a download, and
every file answer forbids sniffing and carries a sandboxing Content-Security-Policy, which
keeps even a mislabelled file from running script or loading anything.
"""

from __future__ import annotations

import re

INLINE_TYPES = frozenset({
    "application/json", "text/plain",
    "image/png", "image/jpeg", "image/gif", "image/webp",
    "video/mp4", "video/webm",
})
"""Shown in the browser: none of them runs script (image/svg+xml does, so it is not here)."""
DOWNLOAD_TYPES = frozenset({"application/zip"})
"""Kept under their own type (a Playwright trace is a zip) but always a download."""

UNTRUSTED_CONTENT = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}
"""Headers for any answer whose body an agent wrote."""


def file_answer(name: str, media_type: str) -> tuple[str, dict[str, str]]:
    """The Content-Type and headers to serve a report file with. `name` matches
    limits.FILE_NAME_PATTERN (no quotes or separators), so it goes in the header as it is."""
    if media_type.lower() in INLINE_TYPES:
        return media_type.lower(), {**UNTRUSTED_CONTENT,
                                    "Content-Disposition": f'inline; filename="{name}"'}
    kept = media_type.lower() if media_type.lower() in DOWNLOAD_TYPES else None
    return kept or "application/octet-stream", {**UNTRUSTED_CONTENT,
                                        "Content-Disposition": f'attachment; filename="{name}"'}


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range (first, last; inclusive) a `Range` header asks of a `size`-byte
    file, so a video player can seek; None to answer with the whole file (no header, a
    form this server does not serve, such as several ranges, or one RFC 9110 calls invalid;
    or an empty file). RangeNotSatisfiable when the range starts past the end, or is a suffix
    of no bytes."""
    # No Content-Range can name a part of nothing, and 416 to a player's "bytes=0-" would
    # call an empty file broken: an empty file is sent whole, as RFC 9110 (14.2) lets a
    # server ignore Range.
    if not header or size == 0:
        return None
    unit, _, spec = header.strip().partition("=")
    found = _RANGE_SPEC.fullmatch(spec.strip())
    if unit.strip().lower() != "bytes" or found is None or found.group(0) == "-":
        return None
    first_text, last_text = found.groups()
    try:
        if not first_text:  # "-N": the last N bytes
            suffix = int(last_text)
            if suffix == 0:
                raise RangeNotSatisfiable(size)
            return max(size - suffix, 0), size - 1
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
    except ValueError:  # more digits than int() takes
        return None
    if first >= size:
        raise RangeNotSatisfiable(size)
    if last < first:
        return None
    return first, min(last, size - 1)


_RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)")
"""One range-spec: only ASCII digits (int() would also take '+5', '1_0' and other scripts'
digits, which RFC 9110's grammar does not)."""


class RangeNotSatisfiable(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"the range starts past the end of the file ({size} bytes)")
        self.size = size
