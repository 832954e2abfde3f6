"""Who may see and change runs, as for jobs: a submitter token its own org's runs (another
org's run is a 404, as if unknown), agent tokens none (403), admins every run; a reader of a
public dashboard reads runs without a token, is offered no action and may change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from qgjob.auth.tokens import Role
from tests.api.test_access_settings import app_with, bearer, issue

RUN = {"org_id": "acme", "app_version_id": "xyz123"}
JOB = {**RUN, "test_path": "tests/a.spec.js"}


@pytest.mark.parametrize(("who", "read", "change", "listed"), [
    ("acme", 200, 200, 1), ("globex", 404, 404, 0), ("agent", 403, 403, None),
    ("admin", 200, 200, 1)])
def test_runs_are_seen_and_changed_like_jobs(tmp_path: Path, who: str, read: int,
                                             change: int, listed: int | None) -> None:
    with app_with(tmp_path) as (client, store):
        tokens = {"acme": issue(store, Role.SUBMITTER, "acme")[1],
                  "globex": issue(store, Role.SUBMITTER, "globex")[1],
                  "agent": issue(store, Role.AGENT)[1], "admin": issue(store)[1]}
        own = bearer(tokens["acme"])
        run_id = client.post("/runs", json=RUN, headers=own).json()["run_id"]
        assert client.post(f"/jobs?run_id={run_id}", json=JOB, headers=own).status_code == 201
        headers = bearer(tokens[who])

        got = client.get(f"/runs/{run_id}", headers=headers)
        assert got.status_code == read
        if read == 200:
            assert got.json()["actions"] == ["cancel"]
        if read == 404:
            assert got.json()["code"] == "unknown_run"
        listing = client.get("/runs", headers=headers)
        assert (listing.json()["count"] if listed is not None else listing.status_code) == (
            listed if listed is not None else 403)
        joined = client.post(f"/jobs/batch?run_id={run_id}", json={"jobs": [JOB]},
                             headers=headers)
        assert joined.status_code == {"acme": 201, "admin": 201, "globex": 403,
                                      "agent": 403}[who]
        assert client.post(f"/runs/{run_id}/rerun-failed", headers=headers).status_code == (
            409 if change == 200 else change)
        assert client.post(f"/runs/{run_id}/cancel", headers=headers).status_code == change


def test_a_public_dashboard_reads_runs_but_changes_none(tmp_path: Path) -> None:
    with app_with(tmp_path, public_dashboard=True) as (client, store):
        admin = bearer(issue(store)[1])
        run_id = client.post("/runs", json=RUN, headers=admin).json()["run_id"]
        client.post(f"/jobs?run_id={run_id}", json=JOB, headers=admin)
        seen = client.get(f"/runs/{run_id}")
        assert seen.status_code == 200 and seen.json()["actions"] == []
        assert client.get(f"/runs/{run_id}", headers=admin).json()["actions"] == ["cancel"]
        assert client.get("/runs").json()["count"] == 1
        assert client.post(f"/runs/{run_id}/cancel").status_code == 401
        assert client.post("/runs", json=RUN).status_code == 401
