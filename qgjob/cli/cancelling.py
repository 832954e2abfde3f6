"""`qgjob cancel` of a running job: its agent stops it at its next heartbeat, unless the test
ends first. The command waits to see which happened and says so."""

from __future__ import annotations

import time
from typing import Any

from qgjob.cli.errors import EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE
from qgjob.cli.http import ApiClient

POLL_SECONDS = 0.25
WAIT_SECONDS = 30.0
"""How long `cancel` waits for a running job to stop unless told otherwise: a few
heartbeats."""


def wait_until_stopped(client: ApiClient, job: dict[str, Any], timeout: float
                       ) -> dict[str, Any]:
    """The job once it has left `running` (or as it stands when `timeout` passes)."""
    deadline = time.monotonic() + timeout
    while job["status"] in ("running", "queued") and time.monotonic() < deadline:
        time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
        job = client.get(f"/jobs/{job['job_id']}")
    return job


def cancel_outcome(job: dict[str, Any], waited: float | None) -> tuple[int, str]:
    """The exit code and the line to print for where a cancelled job stands."""
    job_id, status = job["job_id"], job["status"]
    if status == "cancelled":
        return EXIT_OK, f"cancelled {job_id}"
    if status in ("completed", "failed"):
        return EXIT_USAGE, (f"job {job_id} {status} before the cancel reached it; "
                            "nothing was cancelled")
    where = f"it runs on {job['device']}" if job.get("device") else "it is handed to a device"
    if waited is None:
        return EXIT_OK, f"cancelling {job_id}: {where}; its agent stops it at the next heartbeat"
    return EXIT_TIMEOUT, (f"cancel of {job_id} requested, but it still runs after {waited:g}s "
                          f"({where}); see `qgjob status --job-id {job_id}`")
