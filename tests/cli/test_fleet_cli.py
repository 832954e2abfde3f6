"""`qgjob agents drain|undrain|remove`, `qgjob devices [enable]` and `qgjob export-trace`:
one line and exit 2 for bad input, before or after the server answers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from qgjob.cli.fleet import parse_span
from tests.cli.test_cli import run
from tests.conftest import LiveServer


@pytest.mark.parametrize("args", [
    ("agents", "drain", "bad name"),
    ("agents", "remove", ""),
    ("devices", "enable", "a b"),
    ("export-trace", "--since", "7x"),
    ("export-trace", "--since", "0d"),
    ("export-trace", "--since", "400d"),
    ("export-trace", "--out", ""),
])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                          args: tuple[str, ...]) -> None:
    code, _, err = run(capsys, "http://127.0.0.1:9", *args)
    assert code == 2 and len(err.strip().splitlines()) == 1, err


def test_export_trace_checks_its_out_file_before_asking_the_server(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Nothing listens on port 9: the unwritable file is what it reports, not the server."""
    out = tmp_path / "missing" / "t.json"
    code, _, err = run(capsys, "http://127.0.0.1:9", "export-trace", "--out", str(out))
    assert code == 2 and f"cannot write {out}" in err, err


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90.0), ("90s", 90.0), ("30m", 1800.0), ("12h", 43200.0), ("7d", 604800.0),
    ("2w", 1209600.0), ("1.5h", 5400.0)])
def test_spans(text: str, seconds: float) -> None:
    assert parse_span(text) == seconds


def test_fleet_commands_against_a_server(capsys: pytest.CaptureFixture[str],
                                         live_server: LiveServer, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run(capsys, live_server, "agents", "drain", "nobody")
    assert code == 2 and "no agent named 'nobody'" in err
    httpx.post(f"{live_server.url}/agents", json={"name": "lab", "devices": [
        {"name": "e1", "target": "emulator"}]})
    assert run(capsys, live_server, "agents", "drain", "lab")[0] == 0
    _, out, _ = run(capsys, live_server, "agents", "--json")
    assert json.loads(out)["draining"] is True
    _, out, _ = run(capsys, live_server, "devices")
    assert "lab/e1" in out and "draining" in out and "IN ROTATION" in out
    assert run(capsys, live_server, "agents", "undrain", "lab")[0] == 0
    code, _, err = run(capsys, live_server, "agents", "remove", "lab")
    assert code == 2 and "is online" in err
    # Never out of rotation: enabling it says where it is, not that it came back.
    code, _, err = run(capsys, live_server, "devices", "enable", "e1")
    assert code == 0 and "lab/e1 is in rotation; its failure count starts again" in err
    code, _, err = run(capsys, live_server, "export-trace", "--out", str(tmp_path / "t.json"))
    assert code == 0 and "0 job(s) on 1 device(s)" in err
    assert json.loads((tmp_path / "t.json").read_text())["devices"] == [
        {"id": "lab/e1", "target": "emulator"}]
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, live_server, "export-trace", "--out", "-")
    assert code == 0 and json.loads(out)["devices"][0]["id"] == "lab/e1", err
    assert "->" not in err and not (tmp_path / "-").exists()
    code, _, err = run(capsys, live_server, "export-trace", "--out", str(tmp_path / "no/t.json"))
    assert code == 2 and "cannot write" in err
