"""The heartbeat benchmark at a tiny scale, against two real replicas on PostgreSQL: every
heartbeat is answered for a known session, a job held past its lease by heartbeats alone is
reported without losing it, and no agent is marked offline (the benchmark itself is
`python -m benchmarks.heartbeat_scale`; its figures are in the README)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.postgres import require_postgres

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def test_a_tiny_fleet_keeps_its_leases_and_its_sessions() -> None:
    url = require_postgres()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.heartbeat_scale", "--agents", "2",
         "--seconds", "5", "--heartbeat-seconds", "0.5", "--lease-seconds", "2",
         "--test-seconds", "2.5", "--claims-per-second", "2", "--postgres", url,
         "--no-save"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    written = Path(tempfile.gettempdir()) / "qgjob-benchmarks" / "heartbeat_scale.json"
    result = json.loads(written.read_text())["results"]
    beats = result["heartbeats"]
    assert beats["answered"] > 0 and beats["unknown"] == 0 and not beats["failed"], beats
    assert result["jobs"]["passed"] > 0 and result["jobs"]["lease_lost"] == 0, result["jobs"]
    assert result["agents_at_end"] == {"online": 2}
    assert result["agents_marked_offline_logged"] == 0
    assert all(r["postgres_connections_max"] > 0 for r in result["processes"]["replicas"])
