"""`qgjob token` on the database directly, and the bind rule of `server` and `up`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qgjob.cli.errors import CliError
from qgjob.cli.main import main
from qgjob.cli.processes import secure_settings, server_settings


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tokens.db'}"


def test_create_list_revoke(capsys: pytest.CaptureFixture[str], db: str) -> None:
    code, out, err = run(capsys, "token", "create", "--role", "submitter", "--org-id", "acme",
                         "--db", db)
    assert code == 0 and out.startswith("qgj_") and out.count("\n") == 1
    assert "shown only this once" in err
    secret = out.strip().split("_", 2)[2]
    code, out, _ = run(capsys, "token", "list", "--db", db, "--json")
    [row] = [json.loads(line) for line in out.splitlines()]
    assert (row["org_id"], row["role"], row["revoked_at"]) == ("acme", "submitter", None)
    assert secret not in out
    code, out, _ = run(capsys, "token", "list", "--db", db)
    assert code == 0 and row["id"] in out and secret not in out
    code, _, err = run(capsys, "token", "revoke", "--id", row["id"], "--db", db)
    assert code == 0 and "revoked" in err
    _, out, _ = run(capsys, "token", "list", "--db", db, "--json")
    assert json.loads(out)["revoked_at"] is not None


@pytest.mark.parametrize(("args", "message"), [
    (["create", "--role", "submitter"], "needs --org-id"),
    (["create", "--role", "root"], "'--role'"),
    (["create", "--role", "submitter", "--org-id", "a b"], "org_id"),
    (["revoke", "--id", "nope"], "no token with id 'nope'"),
    (["create", "--role", "admin", "--db", "mysql://x/y"], "database"),
])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], db: str,
                                          args: list[str], message: str) -> None:
    assert run(capsys, "migrate", "--db", db)[0] == 0
    code, out, err = run(capsys, "token", *args, *([] if "--db" in args else ["--db", db]))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.parametrize("command", [["list"], ["revoke", "--id", "9hmxkw7n1b6w"]])
def test_list_and_revoke_need_a_database_that_exists(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path, command: list[str]) -> None:
    mistyped = tmp_path / "nodir" / "x.db"
    for db in [str(mistyped), f"sqlite:///{mistyped}"]:
        code, out, err = run(capsys, "token", *command, "--db", db)
        assert (code, out) == (2, "") and err == f"qgjob: error: no database at {mistyped}\n"
    assert list(tmp_path.iterdir()) == []  # neither the folder nor an empty database
    # The first token makes the database, as `qgjob server` would (README: Security).
    run(capsys, "token", "create", "--role", "admin", "--db", str(mistyped))
    code, out, err = run(capsys, "token", "list", "--db", str(mistyped), "--json")
    assert code == 0 and json.loads(out)["role"] == "admin"


@pytest.mark.parametrize("command", [["token", "list"], ["token", "revoke", "--id", "x"],
                                     ["token", "create", "--role", "admin"], ["migrate"],
                                     ["server"], ["up"]])
def test_an_empty_db_is_refused_not_read_as_the_default(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        command: list[str]) -> None:
    def started(*_args: object) -> None:
        raise AssertionError("started on the default database")

    monkeypatch.setattr("qgjob.processes.run_server", started)
    monkeypatch.setattr("qgjob.processes.run_up", started)
    monkeypatch.setattr("qgjob.settings.default_database_url",
                        lambda: f"sqlite:///{tmp_path / 'default' / 'qgjob.db'}")
    port = ["--port", "18631"] if command[0] in ("server", "up") else []
    code, out, err = run(capsys, *command, "--db", "", *port)
    assert (code, out) == (2, "") and len(err.splitlines()) == 1
    assert "Invalid value for '--db'" in err and "must not be empty" in err
    assert list(tmp_path.iterdir()) == []


def test_beyond_loopback_tokens_keep_the_server_closed(capsys: pytest.CaptureFixture[str],
                                                       db: str) -> None:
    settings = server_settings(db)
    assert secure_settings(settings, "127.0.0.1", insecure=False).open_without_tokens
    with pytest.raises(CliError, match="--insecure"):
        secure_settings(settings, "0.0.0.0", insecure=False)
    assert secure_settings(settings, "0.0.0.0", insecure=True).open_without_tokens
    assert "--insecure" in capsys.readouterr().err
    run(capsys, "token", "create", "--role", "admin", "--db", db)
    assert not secure_settings(settings, "0.0.0.0", insecure=False).open_without_tokens


@pytest.mark.parametrize("command", ["server", "up"])
@pytest.mark.parametrize("insecure", [[], ["--insecure"]])
def test_an_empty_host_is_refused(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                  command: str, insecure: list[str]) -> None:
    def started(*_args: object) -> None:
        raise AssertionError("started on every address, as http://:PORT")

    monkeypatch.setattr("qgjob.processes.run_server", started)
    monkeypatch.setattr("qgjob.processes.run_up", started)
    db = tmp_path / "data" / "qgjob.db"
    code, out, err = run(capsys, command, "--host", "", *insecure, "--port", "18632",
                         "--db", str(db))
    assert (code, out) == (2, "") and len(err.splitlines()) == 1, err
    assert "Invalid value for '--host': must not be empty" in err
    assert not db.parent.exists()
