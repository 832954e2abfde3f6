"""`--server` and `--token` either side of the command name: `qgjob agent --server URL …` as
CONTRACT.md writes it, as well as `qgjob --server URL agent …`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qgjob.agent.identity import AgentIdentity
from qgjob.cli.app import OFFLINE_COMMANDS, command_line
from tests.cli.test_bad_input_cli import UNREACHABLE
from tests.cli.test_simulate import run
from tests.conftest import LiveServer


def test_a_server_after_the_command_wins_over_one_before_it_and_the_environment(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        live_server: LiveServer) -> None:
    monkeypatch.setenv("QGJOB_SERVER", UNREACHABLE)
    code, out, err = run(capsys, "--server", UNREACHABLE, "submit", "--org-id=acme",
                         "--app-version-id=v1", "--test=a.spec.js", "--server", live_server.url)
    assert code == 0, err
    [job_id] = out.split()
    code, out, err = run(capsys, "status", "--job-id", job_id, "--json",
                         "--server", live_server.url)
    assert code == 0, err
    assert json.loads(out)["org_id"] == "acme"


def test_the_environment_stays_the_fallback(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch,
                                            live_server: LiveServer) -> None:
    monkeypatch.setenv("QGJOB_SERVER", live_server.url)
    code, _, err = run(capsys, "jobs", "--json")
    assert code == 0, err


def test_agent_takes_the_contracts_form(capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    """`qgjob agent --server URL --devices emulator:1` was "No such option: --server"."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    reached: list[tuple[str, str | None]] = []

    async def agent_that_stops(server: str, token: str | None, identity: AgentIdentity,
                               *_: object) -> None:
        reached.append((server, token))
        identity.release()

    monkeypatch.setattr("qgjob.processes.run_agent", agent_that_stops)
    code, _, err = run(capsys, "--server", UNREACHABLE, "agent", "--server", "http://farm:8000",
                       "--token", "qgj_x_y", "--name", "a1", "--devices", "emulator:1")
    assert code == 0, err
    assert reached == [("http://farm:8000", "qgj_x_y")]


@pytest.mark.parametrize("args", [
    ["agent", "--devices", "emulator:1", "--server", "localhost:8000"],
    ["agents", "drain", "a1", "--server", "localhost:8000"],
    ["agents", "--server", "localhost:8000", "drain", "a1"],
])
def test_a_bad_server_after_the_command_is_a_usage_error(
        capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, _, err = run(capsys, *args)
    assert code == 2, err
    assert "'--server'" in err and "http://" in err and len(err.strip().splitlines()) == 1


def test_a_token_after_the_command_is_the_one_named_when_refused(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QGJOB_TOKEN", "qgj_fine_token")
    code, _, err = run(capsys, "--server", UNREACHABLE, "status", "--job-id", "x",
                       "--token", "qgj_bad token")
    assert code == 2, err
    assert "token from --token" in err and "qgj_bad" not in err


def _commands_asking_a_server() -> list[list[str]]:
    found: list[list[str]] = []

    def walk(path: list[str], command: object) -> None:
        found.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk([*path, name], sub)

    for name, command in getattr(command_line(), "commands", {}).items():
        if name not in OFFLINE_COMMANDS:
            walk([name], command)
    return found


@pytest.mark.parametrize("path", _commands_asking_a_server(), ids=" ".join)
def test_every_command_that_asks_a_server_shows_both_in_its_help(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        path: list[str]) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = run(capsys, *path, "--help")
    assert code == 0
    assert "--server" in out and "--token" in out


@pytest.mark.parametrize("path", [["simulate", "x.json"], ["up"], ["token", "list"]])
def test_a_command_that_asks_no_server_refuses_one_after_its_name(
        capsys: pytest.CaptureFixture[str], path: list[str]) -> None:
    """It would be taken and ignored: `qgjob up --server URL` starts no server at URL."""
    code, _, err = run(capsys, *path, "--server", UNREACHABLE)
    assert code == 2
    assert "No such option: --server" in err and len(err.strip().splitlines()) == 1
    assert "asks no qgjob server" in err and "Possible options" not in err
