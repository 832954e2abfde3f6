"""`qgjob run` as a CI step runs it: globs in the working tree, exit codes, the JUnit file
and, with GITHUB_ACTIONS=true, the job summary, annotations and step outputs."""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from qgjob.agent.executors.simulate import SimulateExecutor
from qgjob.cli.errors import EXIT_SERVER, EXIT_USAGE, CliError
from qgjob.cli.junit import check_writable, write_report
from qgjob.cli.run import log_excerpts
from tests.agent_thread import running_agent
from tests.cli.test_cli import run
from tests.conftest import LiveServer

SUITE = ["tests/login.spec.js", "tests/onboarding.spec.js", "tests/smoke/math.spec.js"]
RUN = ("run", "--org-id=acme", "--app-version-id=v1", "--test=tests/**/*.spec.js")


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working tree with a suite in it, as the working directory; outside GitHub."""
    for test in [*SUITE, "tests/README.md"]:
        (tmp_path / test).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / test).touch()
    monkeypatch.chdir(tmp_path)
    for name in ("GITHUB_ACTIONS", "GITHUB_RUN_ID", "GITHUB_RUN_NUMBER", "GITHUB_STEP_SUMMARY",
                 "GITHUB_OUTPUT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def in_github(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(checkout / "summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(checkout / "output"))
    return checkout


def junit_cases(path: Path) -> dict[str, ET.Element]:
    return {c.get("file", ""): c for c in ET.parse(path).getroot().iter("testcase")}


def test_a_passing_suite(capsys: pytest.CaptureFixture[str], live_server: LiveServer,
                         checkout: Path) -> None:
    with running_agent(live_server.url, SimulateExecutor(0, 0.02)):
        code, out, err = run(capsys, live_server, *RUN, "--junit=reports/junit.xml",
                             "--timeout=30")
    assert code == 0, err
    assert "3 job(s): 3 completed" in err and "::error" not in out
    cases = junit_cases(checkout / "reports" / "junit.xml")
    assert sorted(cases) == SUITE
    assert cases["tests/smoke/math.spec.js"].get("classname") == "tests.smoke"
    assert not (checkout / "summary.md").exists()  # not in GitHub Actions


def test_a_failing_suite_in_github_actions(capsys: pytest.CaptureFixture[str],
                                           live_server: LiveServer, in_github: Path) -> None:
    (in_github / "summary.md").write_text("earlier\n")
    with running_agent(live_server.url, SimulateExecutor(0, 0.02, fail_rate=1.0)):
        code, out, err = run(capsys, live_server, *RUN, "--max-attempts=1",
                             "--junit=junit.xml", "--timeout=30")
    assert code == 1, err
    assert "::error file=tests/login.spec.js,title=tests/login.spec.js failed::" in out
    failure = junit_cases(in_github / "junit.xml")["tests/login.spec.js"].find("failure")
    assert failure is not None and "simulated failure" in failure.get("message", "")
    summary = (in_github / "summary.md").read_text()
    assert summary.startswith("earlier\n### ❌ qgjob: 3 failed of 3 test(s)")
    outputs = dict(line.split("=", 1) for line in (in_github / "output").read_text().split())
    assert (outputs["failed"], outputs["passed"], outputs["junit"]) == (
        "3", "0", str(in_github / "junit.xml"))


def test_json_keeps_stdout_to_jobs_and_a_retried_step_finds_its_jobs(
        capsys: pytest.CaptureFixture[str], live_server: LiveServer, in_github: Path) -> None:
    with running_agent(live_server.url, SimulateExecutor(0, 0.02, fail_rate=1.0)):
        first = run(capsys, live_server, *RUN, "--max-attempts=1", "--json", "--timeout=30")
        again = run(capsys, live_server, *RUN, "--max-attempts=1", "--json", "--timeout=30")
    for code, out, err in (first, again):
        assert code == 1
        assert [json.loads(line)["test_path"] for line in out.splitlines()] == SUITE
        assert err.count("::error file=") == 3  # annotations move to stderr
    assert first[1] == again[1]  # the same jobs, not new ones
    _, listed, _ = run(capsys, live_server, "jobs", "--json")
    assert len(listed.splitlines()) == 3


def test_timeout_is_exit_3_and_reported(capsys: pytest.CaptureFixture[str],
                                        live_server: LiveServer, checkout: Path) -> None:
    code, _, err = run(capsys, live_server, *RUN, "--timeout=0.2", "--junit=junit.xml")
    assert code == 3 and "timed out" in err
    errors = [c.find("error") for c in junit_cases(checkout / "junit.xml").values()]
    assert all(e is not None and e.get("type") == "timeout" for e in errors)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run", "--org-id=a", "--app-version-id=v"], "Missing option '--test'"),
        ([*RUN, "--test=e2e/*.spec.js"], "--test 'e2e/*.spec.js' matches no file"),
        ([*RUN, "--test="], "--test must not be empty"),
        ([*RUN, "--target=tv"], "target 'tv' is not one of"),
        ([*RUN, "--priority=9"], "priority 9 is out of range"),
        ([*RUN, "--junit=tests"], "--junit 'tests' is a directory"),
        ([*RUN, "--junit=tests/login.spec.js/junit.xml"], "cannot be written"),
        ([*RUN, "--junit=/proc/junit.xml"], "cannot be written"),  # os.access lies as root
        ([*RUN, "--junit=out/x\npassed=999", "--timeout=1"], "holds a control character"),
        (["run", "--rerun-failed=r1", "--junit=out/\x1b[2Jx"], "holds a control character"),
        ([*RUN, "--test=/etc/hostname"], "relative"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_queues_nothing(
        capsys: pytest.CaptureFixture[str], live_server: LiveServer, checkout: Path,
        args: list[str], says: str) -> None:
    code, _, err = run(capsys, live_server, *args)
    assert (code, err.count("\n")) == (2, 1), err
    assert err.startswith("qgjob: error: ") and says in err
    _, listed, _ = run(capsys, live_server, "jobs", "--json")
    assert listed == ""


def test_a_junit_symlink_stays_a_link_and_its_target_gets_the_report(tmp_path: Path) -> None:
    """The report went to a file renamed over the link: the link was gone, its target
    stale."""
    (tmp_path / "reports").mkdir()
    target = tmp_path / "reports" / "junit.xml"
    target.write_bytes(b"old")
    link = tmp_path / "junit.xml"
    link.symlink_to(Path("reports") / "junit.xml")
    dangling = tmp_path / "later.xml"
    dangling.symlink_to(tmp_path / "made" / "later.xml")
    for path in (link, dangling):
        check_writable(path)
        write_report(path, b"<testsuites/>\n")
    assert link.is_symlink() and os.readlink(link) == str(Path("reports") / "junit.xml")
    assert target.read_bytes() == b"<testsuites/>\n"
    assert dangling.is_symlink() and (tmp_path / "made" / "later.xml").read_bytes() == \
        b"<testsuites/>\n"


def test_a_junit_fifo_is_written_into_not_replaced(tmp_path: Path) -> None:
    """Renamed over, the FIFO's reader waited forever for a report that went to a file."""
    fifo = tmp_path / "junit.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    check_writable(fifo)
    write_report(fifo, b"<testsuites/>\n")
    reader.join(timeout=10)
    assert got == [b"<testsuites/>\n"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("kind", ["fifo", "file"])
def test_a_junit_report_that_cannot_be_written_is_exit_2(
        capsys: pytest.CaptureFixture[str], live_server: LiveServer, checkout: Path,
        monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """As `--junit /dev/full` fails (ENOSPC) once it is written into rather than replaced;
    it was exit 0 and no report."""
    from qgjob.cli import junit

    def full(target: Path, report: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    report = checkout / "junit.xml"
    if kind == "fifo":
        os.mkfifo(report)
    else:
        report.write_bytes(b"old")
    monkeypatch.setattr(junit, "_write_into" if kind == "fifo" else "_replace", full)
    with running_agent(live_server.url, SimulateExecutor(0, 0.02)):
        code, _, err = run(capsys, live_server, *RUN, "--junit=junit.xml", "--timeout=30")
    assert code == 2, err
    assert [line for line in err.splitlines() if "error" in line] == [
        "qgjob: error: --junit 'junit.xml' not written: No space left on device"]
    if kind == "fifo":
        assert stat.S_ISFIFO(os.lstat(report).st_mode)
    else:
        assert report.read_bytes() == b"old"


def test_an_unreachable_server_is_exit_4(capsys: pytest.CaptureFixture[str],
                                         checkout: Path) -> None:
    code, _, err = run(capsys, "http://127.0.0.1:9", *RUN)
    assert code == 4 and "cannot reach the qgjob server" in err


class LogsOf:
    """Stands for the server's `GET /jobs/{id}/logs`: a text, or an error with a status."""

    def __init__(self, answer: str | CliError) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def get_text(self, path: str, params: object = None) -> tuple[str, dict[str, str]]:
        self.asked.append(path)
        if isinstance(self.answer, CliError):
            raise self.answer
        return self.answer, {}


@pytest.mark.parametrize(
    ("answer", "excerpt", "note"),
    [
        ("step 1\nAssertionError: no Login button\n", "step 1\nAssertionError: no Login button",
         ""),
        ("", None, ""),
        (CliError(EXIT_USAGE, "Not Found", status=404), None, ""),  # no logs support yet
        (CliError(EXIT_SERVER, "server error: boom"), None, "no log for t.spec.js"),
    ],
)
def test_log_excerpts_of_failed_jobs(capsys: pytest.CaptureFixture[str],
                                     answer: str | CliError, excerpt: str | None,
                                     note: str) -> None:
    jobs = [{"job_id": "a", "status": "failed", "test_path": "t.spec.js"},
            {"job_id": "b", "status": "completed", "test_path": "u.spec.js"}]
    server = LogsOf(answer)
    found = log_excerpts(server, jobs)  # type: ignore[arg-type]
    assert found == ({} if excerpt is None else {"a": excerpt})
    assert server.asked == ["/jobs/a/logs"]  # only failed jobs' logs
    assert note in capsys.readouterr().err


def test_an_unwritable_summary_or_outputs_file_costs_only_that(
        capsys: pytest.CaptureFixture[str], live_server: LiveServer, in_github: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", "/nonexistent/dir/summary.md")
    monkeypatch.setenv("GITHUB_OUTPUT", str(in_github))  # a directory
    with running_agent(live_server.url, SimulateExecutor(0, 0.02, fail_rate=1.0)):
        code, out, err = run(capsys, live_server, *RUN, "--max-attempts=1",
                             "--junit=junit.xml", "--timeout=30")
    assert code == 1, err  # the tests' verdict, not "the server failed"
    assert out.count("::error file=") == 3 and "3 job(s): 3 failed" in err
    table = [line for line in out.splitlines() if not line.startswith("::")]
    assert any("tests/login.spec.js" in line for line in table), out
    assert junit_cases(in_github / "junit.xml")
    warnings = [line for line in err.splitlines() if line.startswith("qgjob: warning: ")]
    assert len(warnings) == 2, err
    assert "the job summary not written: $GITHUB_STEP_SUMMARY '/nonexistent/dir/summary.md': " \
           "No such file or directory" in warnings[0]
    assert "the step outputs not written: $GITHUB_OUTPUT" in warnings[1]
