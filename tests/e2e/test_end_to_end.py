"""Real `qgjob server`, `qgjob agent` and `qgjob up` processes, driven through the CLI as a
user would."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import Process, cli, free_port, wait_healthy
from tests.factories import BRIEF_EXAMPLE

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Process, Path]]:
    port = free_port()
    db = tmp_path / "e2e.db"
    process = Process("server", "--port", str(port), "--db", f"sqlite:///{db}",
                      log=tmp_path / "server.log")
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, process)
    yield url, process, db
    process.stop()


def start_agent(url: str, tmp_path: Path, devices: str = "emulator:2,device:1") -> Process:
    return Process("--server", url, "agent", "--name", "e2e-lab", "--devices", devices,
                   "--install-seconds", "0.2", "--test-seconds", "0.3",
                   log=tmp_path / "agent.log")


def submit_brief_example(url: str) -> list[str]:
    ids = []
    for org, app, test, target in BRIEF_EXAMPLE:
        done = cli(url, "submit", f"--org-id={org}", f"--app-version-id={app}", f"--test={test}",
                   f"--target={target}")
        assert done.returncode == 0, done.stderr
        ids.append(done.stdout.strip())
    return ids


def statuses(url: str, ids: list[str]) -> list[str]:
    return [json.loads(cli(url, "status", "--job-id", i, "--json").stdout)["status"] for i in ids]


def test_the_brief_example(server: tuple[str, Process, Path], tmp_path: Path) -> None:
    url, _, _ = server
    ids = submit_brief_example(url)
    assert statuses(url, ids) == ["queued"] * 5
    groups = [json.loads(line) for line in cli(url, "groups", "--json").stdout.splitlines()]
    assert sorted((g["app_version_id"], g["target"], len(g["job_ids"])) for g in groups) == [
        ("xyz123", "device", 1), ("xyz123", "emulator", 3), ("xyz999", "emulator", 1)]
    agent = start_agent(url, tmp_path)
    try:
        waited = cli(url, "wait", "--timeout", "60", *[a for i in ids for a in ("--job-id", i)])
    finally:
        assert agent.stop() == 0, agent.output()
    assert waited.returncode == 0, waited.stderr
    assert statuses(url, ids) == ["completed"] * 5
    log = agent.output()
    assert "installing xyz123" in log and "installing xyz999" in log
    assert "Traceback" not in log


def test_a_server_crash_loses_nothing(server: tuple[str, Process, Path], tmp_path: Path) -> None:
    url, process, db = server
    agent = start_agent(url, tmp_path, "emulator:1")
    first = [cli(url, "submit", "--org-id=o", "--app-version-id=a", f"--test=t{i}.js").stdout
             .strip() for i in range(2)]
    assert cli(url, "wait", "--timeout", "60", "--job-id", first[0], "--job-id",
               first[1]).returncode == 0
    assert agent.stop() == 0
    later = [cli(url, "submit", "--org-id=o", "--app-version-id=b", f"--test=t{i}.js").stdout
             .strip() for i in range(3)]
    process.stop(signal.SIGKILL)

    port = url.rsplit(":", 1)[1]
    restarted = Process("server", "--port", port, "--db", f"sqlite:///{db}",
                        log=tmp_path / "server2.log")
    try:
        wait_healthy(url, restarted)
        assert statuses(url, first) == ["completed"] * 2
        assert statuses(url, later) == ["queued"] * 3
        agent = start_agent(url, tmp_path, "emulator:1")
        done = cli(url, "wait", "--timeout", "60", *[a for i in later for a in ("--job-id", i)])
        agent.stop()
        assert done.returncode == 0, done.stderr
    finally:
        restarted.stop()


def test_qgjob_up_runs_jobs_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    up = Process("up", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'up.db'}",
                 "--install-seconds", "0.1", "--test-seconds", "0.2", log=tmp_path / "up.log")
    try:
        wait_healthy(url, up)
        done = cli(url, "submit", "--org-id=acme", "--app-version-id=xyz123",
                   "--test=tests/onboarding.spec.js", "--test=tests/login.spec.js",
                   "--target=emulator", "--wait", "--timeout=60")
        assert done.returncode == 0, done.stderr + up.output()
        assert len(done.stdout.split()) >= 2
        agents = json.loads(cli(url, "agents", "--json").stdout)
        assert {d["target"] for d in agents["devices"]} == {"emulator", "device", "browserstack"}
    finally:
        code = up.stop(signal.SIGINT)
    assert code == 0, up.output()
    assert "Traceback" not in up.output()


def test_a_taken_port_is_one_clear_error(server: tuple[str, Process, Path],
                                         tmp_path: Path) -> None:
    url, _, _ = server
    port = url.rsplit(":", 1)[1]
    clash = cli(url, "server", "--port", port, "--db", f"sqlite:///{tmp_path / 'other.db'}")
    assert clash.returncode == 2
    assert clash.stderr.startswith("qgjob: error: cannot listen on 127.0.0.1:")
    assert len(clash.stderr.strip().splitlines()) == 1
