"""A new user's first hour, in a clone: the README's set-up command, then the walk-through it
shows (the brief's example, several tests in one submit, `simulate` on a shipped trace, `run`
with failing tests), each command's exit code and the parts of its output the README shows;
then a README benchmark, which must leave the checkout as it was.

The clone is `git clone` of this checkout with its uncommitted changes to tracked files
applied, so it is what a commit of the working tree would give: a file git does not track is
missing there, as it would be for anyone else.

Two departures from the README's `pip install . && qgjob up`, both for time: the new
virtualenv gets qgjob from the clone (`pip install --no-deps .`) but its dependencies from the
environment running the tests (a `.pth` file), as a full install from the package index takes
about 20 s more and the suite's own install has just done it; and `qgjob up` gets `--port` (the
default 8000 may be taken) and a data directory of its own. Every other command runs as the
README prints it, through bash, in the clone.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
JOB_ID = re.compile(r"^[0-9a-z]{26}$")


@dataclass
class Step:
    command: str
    shown: list[str]
    """The output the README shows under the command."""


def section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    return text.split(f"\n## {title}", 1)[1].split("\n## ", 1)[0]


def blocks(text: str, kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.+?)\n```", text, re.S)


def steps(console: str) -> list[Step]:
    found: list[Step] = []
    for line in console.splitlines():
        if line.startswith("$ "):
            found.append(Step(line[2:], []))
        elif found and line.strip():
            found[-1].shown.append(line)
    return found


def cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


class Clone:
    """The clone, its virtualenv and a `qgjob up` on a free port."""

    def __init__(self, where: Path) -> None:
        self.dir = where / "qgjob"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(self.dir)], check=True)
        changes = subprocess.run(["git", "-C", str(ROOT), "diff", "HEAD", "--binary"],
                                 capture_output=True, check=True).stdout
        if changes:
            subprocess.run(["git", "-C", str(self.dir), "apply"], input=changes, check=True)
        self.venv = where / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(self.venv)],
                       check=True)
        python = self.venv / "bin" / "python"
        own = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
        deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        (Path(own) / "deps-of-the-test-run.pth").write_text("\n".join(sorted(deps)) + "\n")
        self.url = f"http://127.0.0.1:{free_port()}"
        self.env = {**os.environ, "PATH": f"{self.venv / 'bin'}:{os.environ['PATH']}",
                    "QGJOB_SERVER": self.url, "XDG_DATA_HOME": str(where / "data"),
                    "PYTHONDONTWRITEBYTECODE": "1"}
        for name in ("GITHUB_ACTIONS", "GITHUB_SHA", "QGJOB_TOKEN", "VIRTUAL_ENV"):
            self.env.pop(name, None)
        self.up: subprocess.Popen[bytes] | None = None
        self.log = where / "up.log"

    def install(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(self.venv / "bin" / "python"),
             "install", "--quiet", "--no-deps", "."],
            cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=300)

    def sh(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", command], cwd=self.dir, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def start(self, *options: str) -> None:
        self.stop()
        port = self.url.rsplit(":", 1)[1]
        with self.log.open("ab") as log:
            self.up = subprocess.Popen(["qgjob", "up", "--port", port, *options],
                                       cwd=self.dir, env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.up.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"qgjob up did not become healthy:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.up is not None and self.up.poll() is None:
            self.up.send_signal(signal.SIGINT)  # Ctrl-C, as the README says
            try:
                assert self.up.wait(20) == 0, self.log.read_text()
            finally:
                if self.up.poll() is None:
                    self.up.kill()
                    self.up.wait()
        self.up = None


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[Clone]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to clone")
    made = Clone(tmp_path)
    try:
        yield made
    finally:
        made.stop()


def test_a_new_user_follows_the_readme_in_a_clone(clone: Clone) -> None:
    [setup, _tests] = blocks(section("Set up"), "sh")
    assert setup == "pip install . && qgjob up"
    installed = clone.install()
    assert installed.returncode == 0, installed.stderr
    where = clone.sh("cd / && python -c 'import qgjob; print(qgjob.__file__)'").stdout
    assert where.startswith(str(clone.venv)), where  # the clone's code, not this checkout's
    clone.start()

    the_brief_example(clone)
    [several] = blocks(section("The brief's example, end to end"), "sh")
    done = clone.sh(several)
    assert done.returncode == 0, done.stdout + done.stderr  # no $GITHUB_SHA needed
    assert "2 job(s): 2 completed" in done.stderr

    simulate, failing_run = [s for s in steps(blocks(section("Set up"), "console")[0])
                             if s.command != "echo $?"]
    shows_a_simulation(clone, simulate)
    clone.start("--fail-rate", "1")
    shows_failing_tests(clone, failing_run)

    before = clone.sh("git status --porcelain").stdout
    benchmark = clone.sh("python -m benchmarks.cli_start --runs 1")
    assert benchmark.returncode == 0, benchmark.stdout + benchmark.stderr
    assert clone.sh("git status --porcelain").stdout == before, "the benchmark dirtied it"


def the_brief_example(clone: Clone) -> None:
    [console] = blocks(section("The brief's example, end to end"), "console")
    ours: dict[str, str] = {}  # the README's job ids -> this run's
    exit_code = None
    for step in steps(console):
        command = step.command
        for theirs, mine in ours.items():
            command = command.replace(theirs, mine)
        if command == "echo $?":
            assert [str(exit_code)] == step.shown
            continue
        done = clone.sh(command)
        exit_code = done.returncode
        assert exit_code == 0, f"{command}\n{done.stdout}{done.stderr}"
        if command.startswith("qgjob submit"):
            [shown], [printed] = step.shown, done.stdout.split()
            assert JOB_ID.match(printed)
            ours[shown] = printed
        elif command == "qgjob groups":
            shown = groups("\n".join(step.shown), ours)
            # On a loaded machine a job may finish before the command runs: what is listed
            # is then part of what the README shows; `--all` lists every group, finished too.
            assert within(groups(done.stdout, ours), shown)
            assert groups(clone.sh("qgjob groups --all").stdout, ours) == shown
        elif command == "qgjob agents":
            devices = {tuple(cells(line)[:4]) for line in done.stdout.splitlines()[1:]}
            assert devices == {tuple(cells(line)[:4]) for line in step.shown[1:]}
        elif command.startswith("qgjob wait"):
            *table, summary = step.shown
            assert summary in done.stderr
            assert jobs(done.stdout) == jobs("\n".join(table))


def groups(table: str, ids: dict[str, str]) -> set[tuple[str, ...]]:
    """(app, target, org, job ids) per row; the README's ids read as this run's."""
    rows = [cells(line) for line in table.splitlines()[1:]]
    return {(app, target, org, " ".join(sorted(ids.get(i, i) for i in listed.split())))
            for app, target, org, _counts, listed in rows}


def within(listed: set[tuple[str, ...]], shown: set[tuple[str, ...]]) -> bool:
    """Each listed group is one the README shows, holding some of its jobs."""
    ids = {row[:3]: set(row[-1].split()) for row in shown}
    return all(row[:3] in ids and set(row[-1].split()) <= ids[row[:3]] for row in listed)


def jobs(table: str, sha: tuple[str, str] = ("", "")) -> list[tuple[str, ...]]:
    """Each row of a jobs table without what differs from run to run: its id and device."""
    rows = [cells(line) for line in table.splitlines()[1:]]
    return sorted(tuple(c.replace(*sha) if sha[0] else c for c in row[1:8] + row[9:])
                  for row in rows)


def shows_a_simulation(clone: Clone, step: Step) -> None:
    assert step.command == "qgjob simulate examples/traces/burst.json"
    done = clone.sh(step.command)
    assert done.returncode == 0, done.stderr
    printed = {cells(line)[0]: line.strip() for line in done.stdout.splitlines() if line.strip()}
    shown = {cells(line)[0]: line.strip() for line in step.shown}
    assert printed.keys() == shown.keys()
    for label in ("trace", "policy", "jobs"):  # the trace's facts; the rest is the policy's
        assert printed[label] == shown[label]


def shows_failing_tests(clone: Clone, step: Step) -> None:
    assert step.command.startswith("qgjob run ")
    done = clone.sh(step.command)
    assert done.returncode == 1, done.stdout + done.stderr
    head, *table, summary = step.shown
    their_sha = re.findall(r"of (\S+) on", head)[0]
    our_sha = clone.sh("git rev-parse --short HEAD").stdout.strip()
    run_id = re.compile(r"as run \S+")  # differs from run to run, as job ids do
    assert run_id.sub("as run RUN", head.replace(their_sha, our_sha)) in run_id.sub(
        "as run RUN", done.stderr) and summary in done.stderr
    assert jobs(done.stdout) == jobs("\n".join(table), (their_sha, our_sha))
    report = (clone.dir / "junit.xml").read_text()
    assert report.count("<failure ") == 2 and "[simulation] failed" in report
