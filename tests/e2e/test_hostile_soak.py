"""The hostile soak benchmark's quick mode runs against real processes and counts what it
should: every acknowledged job found and finished, none failed, with the flood, slowloris
clients and a full disk under way (the benchmark itself is `python -m benchmarks.hostile_soak`;
its measured figures are in the README)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_a_short_hostile_soak_on_sqlite_loses_and_fails_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.hostile_soak", "--seconds", "6", "--stores",
         "sqlite", "--idle", "200", "--slow", "20", "--drain", "30", "--no-save"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    written = Path(tempfile.gettempdir()) / "qgjob-benchmarks" / "hostile_soak.json"
    result = json.loads(written.read_text())["results"]["sqlite"]
    assert result["acknowledged"] > 0 and result["found in the store"] == result["acknowledged"]
    assert (result["lost"], result["stuck"], result["wrongly failed"]) == (0, 0, 0), result
    assert result["disk full"].startswith("prlimit") and result["health answers"]
    assert result["connections"]["idle opened"] >= 200
