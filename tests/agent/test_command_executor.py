"""The command executor with real child processes."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
import time
from pathlib import Path

import pytest

from qgjob.agent.executors.base import InstallFailed, JobTicket
from qgjob.agent.executors.command import CommandExecutor
from qgjob.agent.executors.process import TemplateError, fill, parse_template
from qgjob.domain.attempts import Outcome

PY = shlex.quote(sys.executable)
JOB = JobTicket("job-1", "acme", "v1.2", "tests/login.spec.js", "emulator", 3)


class Collected:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def run(executor: CommandExecutor, cancel_after: float | None = None,
        job: JobTicket = JOB) -> tuple[Outcome, str | None, str]:
    async def go() -> tuple[Outcome, str | None, str]:
        cancelled = asyncio.Event()
        if cancel_after is not None:
            asyncio.get_running_loop().call_later(cancel_after, cancelled.set)
        output = Collected()
        result = await executor.run(job, "emulator-1", cancelled, output)
        return result.outcome, result.error, output.text

    return asyncio.run(go())


def script(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text(body)
    return f"{PY} {shlex.quote(str(path))}"


def test_exit_code_zero_passes_and_output_is_streamed(tmp_path: Path) -> None:
    cmd = script(tmp_path, "ok.py", "print('Running 1 test'); print('1 passed')")
    outcome, error, text = run(CommandExecutor(cmd))
    assert outcome is Outcome.PASSED and error is None
    assert "Running 1 test\n1 passed\n" in text


def test_a_non_zero_exit_fails_with_the_tail_of_the_output(tmp_path: Path) -> None:
    cmd = script(tmp_path, "bad.py", "import sys\nprint('expected 2, got 3')\nsys.exit(4)")
    outcome, error, _ = run(CommandExecutor(cmd))
    assert outcome is Outcome.FAILED
    assert error is not None and "exited with 4" in error and "expected 2, got 3" in error


def test_placeholders_and_environment(tmp_path: Path) -> None:
    cmd = script(tmp_path, "echo.py",
                 "import os, sys\nprint(sys.argv[1:])\n"
                 "print(os.environ['QGJOB_TEST_PATH'], os.environ['QGJOB_ORG_ID'])")
    outcome, _, text = run(CommandExecutor(cmd + " --spec {test_path} --build={app_version_id}"))
    assert outcome is Outcome.PASSED
    assert "['--spec', 'tests/login.spec.js', '--build=v1.2']" in text
    assert "tests/login.spec.js acme" in text


def test_nothing_ever_goes_through_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    cmd = script(tmp_path, "args.py", "import sys\nprint(sys.argv[1:])")
    outcome, _, text = run(CommandExecutor(f"{cmd} {{test_path}}; touch {marker}"))
    assert outcome is Outcome.PASSED
    assert not marker.exists()  # ";" and "touch" were just arguments
    assert "'tests/login.spec.js;', 'touch'" in text
    spaced = JobTicket("job-2", "acme", "v1", "tests/my login.spec.js", "emulator", 3)
    _, _, text = run(CommandExecutor(f"{cmd} {{test_path}}"), job=spaced)
    assert "['tests/my login.spec.js']" in text  # a value stays one argument


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    cmd = script(tmp_path, "hang.py",
                 "import subprocess, sys, time\n"
                 "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                 f"open({str(child_pid_file)!r}, 'w').write(str(child.pid))\n"
                 "print('started', flush=True)\ntime.sleep(60)")
    outcome, error, _ = run(CommandExecutor(cmd, timeout_seconds=1.5, kill_grace_seconds=1))
    assert outcome is Outcome.FAILED and error is not None and "timed out" in error
    assert not _alive(int(child_pid_file.read_text()))


def test_cancel_kills_the_whole_process_group(tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    cmd = script(tmp_path, "long.py",
                 "import subprocess, sys, time\n"
                 "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                 f"open({str(child_pid_file)!r}, 'w').write(str(child.pid))\ntime.sleep(60)")
    outcome, _, _ = run(CommandExecutor(cmd), cancel_after=1.0)
    assert outcome is Outcome.CANCELLED
    assert not _alive(int(child_pid_file.read_text()))


def test_a_missing_program_is_an_error_not_a_retry() -> None:
    outcome, error, _ = run(CommandExecutor("no-such-program-qgjob {test_path}"))
    assert outcome is Outcome.ERROR and error is not None and "no-such-program" in error


def test_a_line_longer_than_any_buffer(tmp_path: Path) -> None:
    cmd = script(tmp_path, "wide.py", "import sys\nsys.stdout.write('x' * 300_000)")
    outcome, _, text = run(CommandExecutor(cmd))
    assert outcome is Outcome.PASSED and text.count("x") >= 300_000


def test_install_command(tmp_path: Path) -> None:
    good = CommandExecutor("true", install_cmd=script(tmp_path, "i.py", "print('installed')"))
    bad = CommandExecutor("true", install_cmd=script(tmp_path, "f.py",
                                                     "import sys\nprint('no space')\nsys.exit(1)"))
    output = Collected()
    asyncio.run(good.install("v1", "emulator", "emulator-1", output))
    assert "installed" in output.text
    with pytest.raises(InstallFailed, match="no space"):
        asyncio.run(bad.install("v1", "emulator", "emulator-1", Collected()))


def test_an_install_whose_task_is_cancelled_kills_its_process_group(tmp_path: Path) -> None:
    """How an interrupting stop ends an install (`Agent._install` cancels it): the install
    command and what it started do not outlive it."""
    child_pid_file = tmp_path / "child.pid"
    cmd = script(tmp_path, "slow_install.py",
                 "import subprocess, sys, time\n"
                 "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
                 f"open({str(child_pid_file)!r}, 'w').write(str(child.pid))\ntime.sleep(60)")
    executor = CommandExecutor("true", install_cmd=cmd, kill_grace_seconds=1)

    async def go() -> None:
        install = asyncio.ensure_future(executor.install("v1", "emulator", "emulator-1",
                                                         Collected()))
        while not child_pid_file.exists() or not child_pid_file.read_text():
            await asyncio.sleep(0.05)
        install.cancel()
        with pytest.raises(asyncio.CancelledError):
            await install

    asyncio.run(go())
    assert not _alive(int(child_pid_file.read_text()))


@pytest.mark.parametrize(("template", "says"),
                         [("", "empty"), ("run 'unclosed", "cannot split"),
                          ("run {nope}", "unknown placeholder"),
                          ("echo {test_path", "half a placeholder: write {test_path}"),
                          ("run --app=app_version_id} {device}",
                           "half a placeholder: write {app_version_id}")])
def test_bad_templates_are_refused_at_start(template: str, says: str) -> None:
    with pytest.raises(TemplateError, match=says):
        parse_template(template)


def test_fill_keeps_other_braces() -> None:
    words = parse_template("tool --json '{\"a\": 1}' {test_path}")
    assert fill(words, {"test_path": "t.js"}) == ["tool", "--json", '{"a": 1}', "t.js"]


def _alive(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.05)
    return True
