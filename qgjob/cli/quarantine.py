"""Which finished jobs are quarantined tests: their failures are reported but do not fail
`qgjob run`, `qgjob wait` or `qgjob submit --wait`. Asked once, when waiting ends."""

from __future__ import annotations

from typing import Any

from qgjob.cli import render
from qgjob.cli.errors import CliError
from qgjob.cli.http import ApiClient


def mark_quarantined(client: ApiClient, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The jobs, each failed one of a quarantined test with `"quarantined": true`. A server
    without quarantine (404), or one that cannot say, quarantines nothing."""
    orgs = sorted({job["org_id"] for job in jobs if job["status"] == "failed"})
    quarantined: set[tuple[str, str]] = set()
    for org in orgs:
        try:
            listed = client.get("/quarantine", {"org_id": org})["quarantined"]
        except CliError as error:
            if error.status != 404:  # the jobs are done; say so rather than fail over it
                render.stderr.print(f"cannot tell which tests are quarantined: {error.message}")
            return jobs
        quarantined.update((entry["org_id"], entry["test_path"]) for entry in listed)
    return [{**job, "quarantined": True}
            if job["status"] == "failed" and (job["org_id"], job["test_path"]) in quarantined
            else job for job in jobs]
