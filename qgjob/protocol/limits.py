"""The protocol's limits: what the server refuses past, and so what the agent and the CLI keep
under. Defined here once; the schemas, the agent's trimming and the CLI's options read them.

Plain numbers (and a clamp to them), no pydantic: the CLI imports this at start."""

from __future__ import annotations

import math

MAX_JOBS_PER_REQUEST = 1000
"""Jobs in one `POST /jobs/batch` (the CLI submits bigger suites in chunks of this size)."""
MAX_LIST_LIMIT = 1000
"""The largest `limit` of a listing (jobs, runs, groups, test health)."""
MAX_ATTEMPTS = 10
"""The most attempts a submission may ask for (`max_attempts`)."""
IDEMPOTENCY_KEY_MAX = 200

MAX_CLAIM_WAIT_SECONDS = 60.0
"""Longest a device's claim may be held open (the API refuses longer waits)."""
MAX_DEVICES_PER_AGENT = 256
"""Devices one agent registers (and reports in a heartbeat)."""
LABEL_MAX = 64
"""An agent's version and executor names."""
MAX_ATTEMPT_NUMBER = 1000
SECONDS_MAX = 86400.0
"""The longest an install or one test case may have taken (a day): a duration past it is
a mistake, not a measurement. Durations are finite numbers too (JSON `NaN` and `Infinity`
are refused)."""


def case_seconds(seconds: float) -> float:
    """A test case's duration within what the server takes: a case's result is worth more
    than a broken clock, so NaN or a negative time reads 0 and a huge one (or infinity) the
    limit. The agent sends its runner's times through it, and the store reads cases stored
    before the limit through it (a reader then never meets a duration the schema refuses)."""
    if math.isnan(seconds):
        return 0.0
    return min(max(seconds, 0.0), SECONDS_MAX)

REPORT_ERROR_MAX = 8192
"""Characters of an attempt's error in its report."""
REPORT_OUTPUT_MAX = 8192
"""Characters of output a report may carry."""
REPORT_CASES_MAX = 2000
"""Test cases in one report."""
CASE_TITLE_MAX = 2000
CASE_ERROR_MAX = 20_000
CASE_FILE_MAX = 1000
OUTPUT_CHUNK_MAX = 48 * 1024
"""Characters in one `POST .../output` chunk."""
RELEASE_MAX = 1000
"""Job ids in one hand-back."""

FILE_NAME_MAX = 100
FILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
FILE_MAX_BYTES = 6 * 1024 * 1024
"""The largest file an attempt keeps (a screenshot, a trace)."""
FILE_BASE64_MAX = (FILE_MAX_BYTES + 2) // 3 * 4
"""`FILE_MAX_BYTES` in base64, as an upload carries it."""

NOT_ONE_LINE = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
"""Control characters (C0, DEL and C1: NUL, which PostgreSQL refuses in text, and the line
breaks NEL and the Unicode line and paragraph separators) and the bidirectional overrides and
isolates, which make a name read otherwise than it is spelt in a terminal or the dashboard."""
ONE_LINE_PATTERN = rf"^[^{NOT_ONE_LINE}]+$"
"""One line of text: none of `NOT_ONE_LINE`."""
QUARANTINE_REASON_MAX = 500
QUARANTINE_REASON_PATTERN = rf"^[^{NOT_ONE_LINE}]*$"
"""One line: none of `NOT_ONE_LINE` (may be empty)."""
STATS_DAYS_MAX = 365
DEVICE_CHOICE_MAX = 260
DEVICE_CHOICE_PATTERN = r"^[A-Za-z0-9._:@/-]+$"
"""A device id (`AGENT/DEVICE`) or a device name, as fleet commands take it."""
