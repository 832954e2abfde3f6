"""A report always fits the server's body cap: a refused report would leave its job running
until the lease expired, then run it again."""

from __future__ import annotations

import json
from typing import Any

from qgjob.agent.client import fit_report


def report(cases: int, error_chars: int, failed_every: int = 3) -> dict[str, Any]:
    return {"lease_id": "L", "attempt": 1, "outcome": "failed", "error": "boom",
            "tests": [{"title": f"case {n}", "duration_seconds": 1.0, "file": "a.spec.js",
                       "status": "failed" if n % failed_every == 0 else "passed",
                       "error": ("Error: expected 1 " + "x" * error_chars) if n % 2 else None}
                      for n in range(cases)]}


def size(body: dict[str, Any]) -> int:
    return len(json.dumps(body).encode())


def test_a_report_that_fits_goes_as_it_is() -> None:
    body = report(20, 100)
    assert fit_report(body, 64 * 1024) is body


def test_errors_get_shorter_first_keeping_their_start() -> None:
    fitted = fit_report(report(100, 5000), 64 * 1024)
    assert size(fitted) <= 64 * 1024 and len(fitted["tests"]) == 100
    errors = [case["error"] for case in fitted["tests"] if case["error"]]
    assert errors and all(e.startswith("Error: expected 1") and len(e) <= 500 for e in errors)


def test_then_cases_that_did_not_pass_are_kept_before_those_that_did() -> None:
    body = report(2000, 20_000, failed_every=10)
    assert size(body) > 10 * 1024 * 1024
    fitted = fit_report(body, 64 * 1024)
    assert size(fitted) <= 64 * 1024
    kept = fitted["tests"]
    failed = sum(case["status"] == "failed" for case in body["tests"])
    assert sum(case["status"] == "failed" for case in kept) == failed  # all 200 of them
    assert 200 < len(kept) < 2000 and fitted["outcome"] == "failed"
