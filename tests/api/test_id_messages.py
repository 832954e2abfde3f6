"""An id the API refuses is told which rule it broke (its first character, a character no
id may hold, its length), in the same words as the CLI: not "may contain only letters,
digits, '.', '_', '-'" for `-acme`, nor a regex for `job_id=bad id`."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

JOB = {"org_id": "acme", "app_version_id": "xyz123", "test_path": "tests/a.spec.js"}
NAME_CHARACTERS = "letters, digits and . _ : @ -"


@pytest.mark.parametrize(("method", "url", "body", "says"), [
    ("POST", "/jobs", {**JOB, "org_id": "-acme"},
     "org_id '-acme' must start with a letter or digit"),
    ("POST", "/jobs/batch", {"jobs": [JOB, {**JOB, "org_id": ".acme"}]},
     "jobs.1.org_id: org_id '.acme' must start with a letter or digit"),
    ("GET", "/jobs?org_id=_x", None, "org_id '_x' must start with a letter or digit"),
    ("GET", "/jobs?job_id=bad%20id", None,
     f"job_id 'bad id' may contain only {NAME_CHARACTERS}, not ' '"),
    ("GET", "/jobs?job_id=ok&job_id=-x", None, "job_id '-x' must start with a letter or digit"),
    ("GET", "/jobs/-x", None, "job_id '-x' must start with a letter or digit"),
    ("GET", "/jobs/" + "x" * 129, None, "job_id is longer than 128 characters"),
    ("POST", "/jobs?run_id=a%20b", JOB, f"run_id 'a b' may contain only {NAME_CHARACTERS}, "
                                         "not ' '"),
    ("POST", "/agents/-a/drain", None, "name '-a' must start with a letter or digit"),
    ("GET", "/runs/-r", None, "run_id '-r' must start with a letter or digit"),
    ("POST", "/runs/a%20b/cancel", None, f"run_id 'a b' may contain only {NAME_CHARACTERS}, "
                                         "not ' '"),
    ("POST", "/agents/a%20b/heartbeat", {"devices": []},
     f"agent_id 'a b' may contain only {NAME_CHARACTERS}, not ' '"),
])
def test_a_refused_id_is_told_the_rule_it_broke(client: TestClient, method: str, url: str,
                                                body: object, says: str) -> None:
    answer = client.request(method, url, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == says
    assert answer.json()["code"] == "invalid_input"
