"""Bad input on the command line is exit 2 and one line that says what is wrong, never a
traceback nor exit 4 ("unexpected …"): traces nested too deep, charts the CLI cannot write,
tokens no token could be."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_simulate import run
from tests.sim.test_simulator import TRACES

UNREACHABLE = "http://127.0.0.1:9"
"""Nothing listens here: a command that tried to connect would be exit 4."""


def one_line_exit_2(code: int, err: str) -> None:
    assert code == 2, err
    assert err.startswith("qgjob: error: ") and len(err.strip().splitlines()) == 1
    assert "unexpected" not in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["simulate", "plan"])
def test_a_trace_nested_too_deep_is_bad_input(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path, command: str) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    code, out, err = run(capsys, command, str(deep))
    one_line_exit_2(code, err)
    assert f"{deep}: not a trace: JSON nested too deep" in err and out == ""


def test_a_trace_nested_too_deep_on_stdin_is_bad_input(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("[" * 100_000))
    code, _, err = run(capsys, "simulate", "-")
    one_line_exit_2(code, err)
    assert "stdin: not a trace: JSON nested too deep" in err


@pytest.mark.parametrize(("name", "says"), [
    ("chart.txt", "--chart '{chart}': cannot draw a .txt file; name a .png, .svg or .pdf file"),
    ("missing/chart.png", "cannot write {chart}: No such file or directory"),
    (".", "cannot write {chart}: Is a directory"),
])
def test_plan_refuses_a_chart_it_cannot_write_before_planning(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        name: str, says: str) -> None:
    # Checked before matplotlib is needed (None in sys.modules: importing it fails), and
    # before the trace is read (this one does not exist).
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    chart = tmp_path / name
    code, out, err = run(capsys, "plan", str(tmp_path / "no-such-trace.json"),
                         "--chart", str(chart))
    one_line_exit_2(code, err)
    assert says.format(chart=chart) in err and out == ""


def test_plan_refuses_a_chart_that_is_a_directory(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    folder = tmp_path / "charts"
    folder.mkdir()
    code, out, err = run(capsys, "plan", str(TRACES / "brief.json"), "--chart", str(folder))
    one_line_exit_2(code, err)
    assert f"cannot write {folder}: Is a directory" in err and out == ""
    assert not folder.with_suffix(".png").exists()  # matplotlib's own guess, once
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(("name", "magic"), [("wait", b"\x89PNG"), ("wait.SVG", b"<?xml"),
                                             ("wait.pdf", b"%PDF")])
def test_plan_writes_the_chart_it_was_named(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path, name: str, magic: bytes) -> None:
    pytest.importorskip("matplotlib")
    chart = tmp_path / name
    code, _, err = run(capsys, "plan", str(TRACES / "brief.json"), "--chart", str(chart))
    assert code == 0, err
    assert chart.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no `wait.png` beside `wait`


BAD_TOKENS = ["qgj_secretpart\nrest", "qgj_secretpart\r", "qgj_secret part", "qgj_secretpärt"]


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_a_token_no_token_could_be_is_refused_without_echoing_it(
        capsys: pytest.CaptureFixture[str], token: str) -> None:
    code, _, err = run(capsys, "--server", UNREACHABLE, "--token", token, "jobs")
    one_line_exit_2(code, err)  # refused before connecting: not 4
    assert "from --token contains characters a token cannot have" in err
    assert "secret" not in err and "rest" not in err


def test_a_bad_token_in_the_environment_is_named_so(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QGJOB_TOKEN", "qgj_secretpart\nrest")
    code, _, err = run(capsys, "--server", UNREACHABLE, "status", "--job-id", "x")
    one_line_exit_2(code, err)
    assert "from QGJOB_TOKEN contains characters a token cannot have" in err
    assert "secret" not in err
    # Commands that send nothing do not care about it.
    code, _, err = run(capsys, "simulate", str(TRACES / "brief.json"))
    assert code == 0, err


def test_an_agent_refuses_a_bad_token_before_it_starts(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def started(*_args: object) -> None:
        raise AssertionError("the agent took a name or started with a token it cannot send")

    # Were it not refused, the agent would hold its name and retry the server for ever.
    monkeypatch.setattr("qgjob.cli.agent._identity", started)
    monkeypatch.setattr("qgjob.processes.run_agent", started)
    code, _, err = run(capsys, "--server", UNREACHABLE, "--token", "qgj_secretpart\nrest",
                       "agent", "--devices", "emulator:1")
    one_line_exit_2(code, err)
    assert "contains characters a token cannot have" in err and "secret" not in err


@pytest.mark.parametrize("command", [["up"], ["server"], ["agent", "--devices", "emulator:1"]])
@pytest.mark.parametrize("level", ["bogus", ""])
def test_a_log_level_logging_lacks_is_refused_before_anything_is_created(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        command: list[str], level: str) -> None:
    def started(*_args: object) -> None:
        raise AssertionError("started with a log level logging would refuse")

    # (Under pytest, whose handlers make logging.basicConfig a no-op, a level let through
    # would not even fail: the server would run.)
    for started_by_a_command in ["qgjob.cli.agent._identity", "qgjob.processes.run_server",
                                 "qgjob.processes.run_up", "qgjob.processes.run_agent"]:
        monkeypatch.setattr(started_by_a_command, started)
    db = tmp_path / "data" / "qgjob.db"
    where = ["--db", f"sqlite:///{db}", "--port", "18630"]
    code, out, err = run(capsys, "--server", UNREACHABLE, *command, "--log-level", level,
                         *([] if command[0] == "agent" else where))
    one_line_exit_2(code, err)
    assert f"{level!r} is not a log level: use debug, info, warning, error or critical" in err
    assert not db.parent.exists() and out == ""


@pytest.mark.parametrize("command", ["up", "server"])
def test_a_host_that_is_no_address_is_said_so_before_anything_is_created(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str) -> None:
    """It was refused as "no API tokens" (it is not loopback), and with --insecure as a taken
    port ("is another qgjob server running?")."""
    db = tmp_path / "data" / "qgjob.db"
    for insecure in ([], ["--insecure"]):
        code, out, err = run(capsys, command, "--host", "not a host", "--port", "18631",
                             "--db", f"sqlite:///{db}", *insecure)
        one_line_exit_2(code, err)
        assert "'not a host': not an IP address or a host name this machine can resolve" in err
        assert not db.parent.exists() and out == ""


ORG_TAKING = [["jobs"], ["runs"], ["tests"], ["stats"],
              ["submit", "--app-version-id=v", "--test=a.js"],
              ["run", "--app-version-id=v", "--test=a.js"],
              ["token", "create", "--role=submitter", "--db=unused.db"]]


@pytest.mark.parametrize("command", ORG_TAKING)
@pytest.mark.parametrize(("org", "says"), [
    ("a" * 5000, "Invalid value for '--org-id': org_id is longer than 64 characters"),
    ("", "Invalid value for '--org-id': org_id must not be empty")])
def test_every_org_id_is_checked_alike_before_connecting(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        command: list[str], org: str, says: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "--server", UNREACHABLE, *command, "--org-id", org)
    one_line_exit_2(code, err)
    assert says in err and out == "" and list(tmp_path.iterdir()) == []


def test_a_run_name_past_the_servers_limit_is_refused_not_cut(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import TypeAdapter, ValidationError

    from qgjob.cli.run_source import NAME_MAX
    from qgjob.protocol.runs import RunName

    TypeAdapter(RunName).validate_python("n" * NAME_MAX)  # the server's limit, no less
    with pytest.raises(ValidationError):
        TypeAdapter(RunName).validate_python("n" * (NAME_MAX + 1))
    (tmp_path / "a.spec.js").write_text("")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "--server", UNREACHABLE, "run", "--org-id=a",
                       "--app-version-id=v", "--test=a.spec.js", "--run-name", "n" * 201)
    one_line_exit_2(code, err)
    assert "Invalid value for '--run-name': at most 200 characters; this one has 201" in err


def test_an_enum_option_says_what_is_wrong_without_pydantics_prefix(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "token", "create", "--role", "bogus",
                       "--db", str(tmp_path / "t.db"))
    one_line_exit_2(code, err)
    assert "Invalid value for '--role': 'bogus' is not one of 'submitter', 'agent'" in err


@pytest.mark.parametrize("command", ["submit", "run"])
def test_priority_help_names_every_name_the_server_takes(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        command: str) -> None:
    from qgjob.domain.values import PRIORITY_NAMES

    monkeypatch.setenv("COLUMNS", "400")  # one line per option
    code, out, _ = run(capsys, command, "--help")
    [line] = [line for line in out.splitlines() if "--priority" in line]
    assert code == 0 and all(name in line for name in PRIORITY_NAMES), line


@pytest.mark.parametrize(("args", "says"), [
    (["submit", "--org-id=-acme", "--app-version-id", "v", "--test", "a.spec.js"],
     "'--org-id': org_id '-acme' must start with a letter or digit"),
    (["jobs", "--org-id=_x"], "'--org-id': org_id '_x' must start with a letter or digit"),
    (["status", "--job-id=-x"], "'--job-id': --job-id '-x' must start with a letter or digit"),
    (["status", "--job-id=a b"], "'--job-id': --job-id 'a b' may contain only letters, digits "
                                 "and . _ : @ -, not ' '"),
])
def test_an_id_is_told_the_rule_it_broke(capsys: pytest.CaptureFixture[str], args: list[str],
                                         says: str) -> None:
    """`--org-id=-acme` read "may contain only letters, digits, '.', '_', '-'", which it does."""
    code, out, err = run(capsys, "--server", UNREACHABLE, *args)
    one_line_exit_2(code, err)  # refused before connecting: not 4
    assert says in err and out == ""


@pytest.mark.parametrize(("server", "why"), [
    ("http://[::1", "Invalid IPv6 URL"),
    ("http://[zzz]:8000", "'zzz' does not appear to be an IPv4 or IPv6 address"),
    ("http://127.0.0.1:99999", "its port '99999' is not a number from 1 to 65535"),
    ("http://127.0.0.1:abc", "its port 'abc' is not a number from 1 to 65535"),
    ("http://127.0.0.1:0", "its port '0' is not a number from 1 to 65535"),
    ("http://:8000", "it names no host"),
    ("http://farm 1:8000", "it contains a space or a control character"),
    ("http://127.0.0.1:", "its port is empty (leave the ':' out for the default port)"),
    ("https://[::1]:/qgjob", "its port is empty (leave the ':' out for the default port)"),
    (f"{UNREACHABLE},http://[::1", "Invalid IPv6 URL"),
])
@pytest.mark.parametrize("given_as", ["--server", "QGJOB_SERVER"])
def test_a_server_address_that_is_no_valid_url_is_bad_input(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, server: str,
        why: str, given_as: str) -> None:
    """`http://[::1` and a port past 65535 were exit 4, "unexpected ValueError"; a server
    with no host was "cannot reach the qgjob server"; an empty port silently meant 80."""
    if given_as == "QGJOB_SERVER":
        monkeypatch.setenv("QGJOB_SERVER", server)
        code, out, err = run(capsys, "jobs")
    else:
        code, out, err = run(capsys, "--server", server, "jobs")
    one_line_exit_2(code, err)
    bad = server.rpartition(",")[2]
    assert f"'--server': {bad!r} is not a valid URL: {why}" in err and out == ""


@pytest.mark.parametrize(("server", "shown"), [
    ("http://ci:s3cret@127.0.0.1:9", "http://***@127.0.0.1:9"),
    ("https://ci@farm/qgjob", "https://***@farm/qgjob"),
    ("http://@127.0.0.1:9", "http://***@127.0.0.1:9"),
    (f"{UNREACHABLE},http://ci:s3cret@[::1]:9", "http://***@[::1]:9"),
])
@pytest.mark.parametrize("given_as", ["--server", "QGJOB_SERVER", "--server after"])
def test_credentials_in_a_server_address_are_refused_and_never_echoed(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, server: str,
        shown: str, given_as: str) -> None:
    """`http://user:pass@host` was taken and the user:pass silently dropped (the server then
    answered 401, or let the command through unauthenticated), and the password was printed
    back in "cannot reach the qgjob server at ..."."""
    if given_as == "QGJOB_SERVER":
        monkeypatch.setenv("QGJOB_SERVER", server)
        code, out, err = run(capsys, "jobs")
    elif given_as == "--server":
        code, out, err = run(capsys, "--server", server, "jobs")
    else:
        code, out, err = run(capsys, "jobs", "--server", server)
    one_line_exit_2(code, err)
    assert (f"'--server': {shown!r} has credentials in it, which qgjob does not use: pass "
            "an API token with --token or QGJOB_TOKEN") in err and out == ""
    assert "s3cret" not in err and "ci@" not in err


@pytest.mark.parametrize("server", ["http://[::1]:9", "https://farm:65535/qgjob/",
                                    "http://127.0.0.1", "http://farm:8000/team@ci"])
def test_a_valid_server_address_is_taken(server: str) -> None:
    from qgjob.servers import parse_servers

    assert parse_servers(server) == [server.rstrip("/")]


@pytest.mark.parametrize(("host", "url"), [("127.0.0.1", "http://127.0.0.1:8123"),
                                           ("::1", "http://[::1]:8123"),
                                           ("::", "http://[::]:8123")])
def test_the_address_up_prints_is_one_server_takes_back(host: str, url: str) -> None:
    """`qgjob up --host ::` printed `http://:::8000`, which `--server` refuses."""
    from qgjob.servers import parse_servers, server_url

    assert server_url(host, 8123) == url
    assert parse_servers(url) == [url]


def test_a_trace_number_too_large_for_a_float_is_bad_input(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """10**400 seconds was 'unexpected OverflowError' (exit 4)."""
    trace = tmp_path / "huge.json"
    raw = (TRACES / "burst.json").read_text()
    at = raw.index('"duration": ') + len('"duration": ')
    end = at + next(i for i, c in enumerate(raw[at:]) if c in ",}\n")
    trace.write_text(raw[:at] + "1" + "0" * 400 + raw[end:])
    code, out, err = run(capsys, "simulate", str(trace))
    one_line_exit_2(code, err)
    assert "duration" in err and out == ""


@pytest.mark.parametrize(("args", "says"), [
    (["agent", "--devices", "emulator:1", "--run-cmd", "false"],
     "--run-cmd is for --executor command, not simulate"),
    (["agent", "--devices", "emulator:1", "--executor", "command", "--run-cmd", "false",
      "--install-seconds", "1"], "--install-seconds is for --executor simulate, not command"),
    (["agent", "--devices", "emulator:1", "--executor", "command",
      "--run-cmd", "echo {test_path"], "half a placeholder: write {test_path}"),
    (["up", "--install-seconds", "1e308"], "is above 3600"),
])
def test_options_that_would_be_ignored_or_misread_are_refused(
        capsys: pytest.CaptureFixture[str], args: list[str], says: str) -> None:
    """Each was taken: --run-cmd beside the simulation ignored (every job 'passed'),
    '{test_path' run as written, an install of 1e308 s that no signal could stop."""
    code, _, err = run(capsys, "--server", UNREACHABLE, *args) if args[0] != "up" \
        else run(capsys, *args)
    one_line_exit_2(code, err)  # refused before connecting or starting anything
    assert says in err


@pytest.mark.parametrize("where", ["folder", "missing/ledger.txt"])
def test_an_execution_log_that_cannot_be_written_is_refused_at_start(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, where: str) -> None:
    """It was found at the first job, and every job failed on it."""
    (tmp_path / "folder").mkdir()
    code, _, err = run(capsys, "--server", UNREACHABLE, "agent", "--devices", "emulator:1",
                       "--execution-log", str(tmp_path / where))
    one_line_exit_2(code, err)
    assert "--execution-log" in err


@pytest.mark.parametrize(("change", "says"), [
    (lambda t: t["jobs"][0].update(org_id="acme\nevil"), "jobs[0]: org_id"),
    (lambda t: t["jobs"][0].update(test_path="t/" * 5000 + "a.js"), "jobs[0]: test_path"),
    (lambda t: t["devices"][0].update(id=""), "devices[0]"),
    (lambda t: t.update(name={"an": "object"}), "name must be one line of text"),
    (lambda t: t.update(name="two\nlines"), "name must be one line of text"),
])
def test_a_trace_holds_names_the_server_would_take(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        change: Callable[[dict[str, Any]], None], says: str) -> None:
    """A newline in an org split the summary's lines; a 10,000-character test path, an empty
    device id or an object for a name were taken."""
    trace = json.loads((TRACES / "burst.json").read_text())
    change(trace)
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(trace))
    code, out, err = run(capsys, "simulate", str(path))
    one_line_exit_2(code, err)
    assert says in err and out == ""


def test_submit_says_a_timeout_without_wait_does_nothing(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The contract lists --timeout beside --wait, so a script may give it alone: it is not
    refused, but it was silently ignored."""
    code, _, err = run(capsys, "--server", UNREACHABLE, "submit", "--org-id", "acme",
                       "--app-version-id", "v1", "--test", "t.js", "--timeout", "5")
    assert code == 4  # it went on to submit (nothing listens here)
    assert "--timeout has no effect without --wait" in err
