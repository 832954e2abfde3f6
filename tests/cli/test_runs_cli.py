"""`qgjob run` makes a run; `qgjob runs` lists it, `runs show` shows its tests failures
first, `run --rerun-failed` runs its failed tests again as a linked run and waits, `runs
cancel` stops one; the JUnit has a testcase per test; errors are one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.agent_thread import running_agent
from tests.cli.test_cli import run
from tests.cli.test_run import RUN, checkout  # noqa: F401  (a fixture)
from tests.conftest import LiveServer
from tests.scripted_executor import ScriptedExecutor


def test_a_run_its_listing_and_a_rerun_of_its_failed_tests(
        capsys: pytest.CaptureFixture[str], live_server: LiveServer, checkout: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    monkeypatch.setenv("GITHUB_RUN_NUMBER", "7")
    monkeypatch.setenv("GITHUB_WORKFLOW", "CI")
    monkeypatch.setenv("GITHUB_REF", "refs/pull/12/merge")
    monkeypatch.setenv("GITHUB_HEAD_REF", "feature/login")
    monkeypatch.setenv("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
    with running_agent(live_server.url, ScriptedExecutor()):
        code, _, err = run(capsys, live_server, *RUN, "--max-attempts=1", "--junit=junit.xml",
                           "--timeout=30")
        assert code == 1, err
        [first] = _json_lines(run(capsys, live_server, "runs", "--json")[1])
        assert (first["status"], first["counts"]["failed"], first["counts"]["passed"]) == (
            "failed", 1, 2)
        assert first["name"] == "CI #7 · feature/login · PR #12 · 01234567"  # as GitHub shows
        assert (first["source"]["pull_request"], first["source"]["ci_run_id"]) == (12, "77")
        assert f"as run {first['run_id']}" in err

        code, shown, _ = run(capsys, live_server, "runs", "show", first["run_id"])
        assert code == 0 and shown.startswith("run "), shown  # no blank header line
        assert shown.index("logs in") < shown.index("opens the form") < shown.index("works")

        code, out, err = run(capsys, live_server, "run", "--rerun-failed", first["run_id"],
                             "--junit=again.xml", "--json", "--timeout=30")
    assert code == 1, err
    assert [json.loads(line)["test_path"] for line in out.splitlines()] == [
        "tests/login.spec.js"]
    listed = _json_lines(run(capsys, live_server, "runs", "--json")[1])
    assert [(r["attempt"], r["rerun_of"]) for r in listed] == [(2, first["run_id"]),
                                                               (1, None)]
    code, out, _ = run(capsys, live_server, "runs", "--status=passed", "--json")
    assert (code, out) == (0, "")

    cases = [(c.get("classname"), c.get("name"), c.find("failure") is not None)
             for c in ET.parse(checkout / "junit.xml").getroot().iter("testcase")]
    assert sorted(cases) == [("tests/login.spec.js", "logs in", True),
                             ("tests/login.spec.js", "opens the form", False),
                             ("tests/onboarding.spec.js", "works", False),
                             ("tests/smoke/math.spec.js", "works", False)]
    assert len(list(ET.parse(checkout / "again.xml").getroot().iter("testcase"))) == 2


def test_cancel_a_run_and_submit_into_one(capsys: pytest.CaptureFixture[str],
                                          live_server: LiveServer, checkout: Path  # noqa: F811
                                          ) -> None:
    code, _, err = run(capsys, live_server, *RUN, "--timeout=0.1", "--run-name=nightly")
    assert code == 3, err
    [made] = _json_lines(run(capsys, live_server, "runs", "--json")[1])
    assert made["name"] == "nightly" and made["counts"]["queued"] == 3
    code, out, _ = run(capsys, live_server, "submit", "--org-id=acme", "--app-version-id=v1",
                       "--test=tests/extra.spec.js", f"--run={made['run_id']}")
    assert code == 0 and len(out.split()) == 1
    code, _, err = run(capsys, live_server, "runs", "cancel", made["run_id"])
    assert code == 0 and "cancelled (4 cancelled)" in err


@pytest.mark.parametrize(("args", "says"), [
    (["runs", "show", "nosuchrun"], "no run with id 'nosuchrun'"),
    (["runs", "cancel", "nosuchrun"], "no run with id 'nosuchrun'"),
    (["runs", "--status=green"], "must be queued, running, passed, failed or cancelled"),
    (["run", "--rerun-failed", "nosuchrun"], "no run with id 'nosuchrun'"),
    (["run", "--rerun-failed", "x", "--test=a.js"], "--rerun-failed takes no"),
    *[(["run", "--rerun-failed", "x", option], "--rerun-failed takes no --org-id, "
       "--app-version-id, --test, --target, --priority, --max-attempts or --run-name")
      for option in ["--target=device", "--target=emulator", "--priority=5",
                     "--max-attempts=3", "--run-name=foo"]],
    (["run", "--org-id=a", "--test=a.js"], "Missing option '--app-version-id'"),
    (["submit", "--org-id=a", "--app-version-id=v", "--test=a.js", "--run=nosuchrun"],
     "no run with id 'nosuchrun'"),
    (["runs", "show", "bad id"], "RUN"),
])
def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str],
                                      live_server: LiveServer, args: list[str],
                                      says: str) -> None:
    code, _, err = run(capsys, live_server, *args)
    assert (code, err.count("\n")) == (2, 1), err
    assert err.startswith("qgjob: error: ") and says in err


def _json_lines(text: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in text.splitlines()]


def test_runs_takes_the_lists_limit(capsys: pytest.CaptureFixture[str],
                                    live_server: LiveServer) -> None:
    """`--limit` goes as far as the API's lists (1,000); it stopped at 200."""
    assert run(capsys, live_server, "runs", "--limit", "1000")[0] == 0
    code, _, err = run(capsys, live_server, "runs", "--limit", "1001")
    assert code == 2 and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(("error", "cell"), [
    ("\nAssertionError: expected 1 to be 2", "AssertionError: expected 1 to be 2"),
    ("x" * 100, "x" * 79 + "…"), ("first\nsecond", "first …")])
def test_runs_show_gives_an_errors_first_line_and_says_what_was_cut(error: str,
                                                                    cell: str) -> None:
    from qgjob.cli.runs import run_view
    from tests.cli.test_render import printed

    test = {"result": "failed", "test_path": "tests/a.spec.js", "title": "logs in",
            "target": "emulator", "duration_seconds": 1.0, "job_id": "j1", "error": error}
    shown = run_view({"run_id": "r1", "name": "nightly", "status": "failed", "org_id": "acme",
                      "app_version_id": "v1", "targets": ["emulator"],
                      "counts": {"failed": 1, "flaky": 0, "cancelled": 0, "running": 0,
                                 "queued": 0, "passed": 0},
                      "attempt": 1, "rerun_of": None, "duration_seconds": 1.0,
                      "created_at": "2026-11-23T10:00:00Z", "finished_at": None,
                      "source": {}, "tests": [test]})
    [row] = [line for line in printed(shown, width=400).splitlines() if "j1" in line]
    assert row.split("  j1")[1].strip() == cell
