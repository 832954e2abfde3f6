"""The CLI as a user runs it: output, one-line errors and the contract's exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from qgjob.agent.executors.simulate import SimulateExecutor
from qgjob.cli.main import main
from tests.agent_thread import running_agent
from tests.conftest import LiveServer
from tests.factories import BRIEF_EXAMPLE


def run(capsys: pytest.CaptureFixture[str], server: LiveServer | str, *args: str
        ) -> tuple[int, str, str]:
    url = server if isinstance(server, str) else server.url
    with pytest.raises(SystemExit) as exit_info:
        main(["--server", url, *args])
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def submit(capsys: pytest.CaptureFixture[str], live: LiveServer, *args: str) -> list[str]:
    code, out, err = run(capsys, live, "submit", "--org-id=qualgent", "--app-version-id=xyz123",
                         *args)
    assert code == 0, err
    return out.split()


def test_the_brief_example_through_the_cli(capsys: pytest.CaptureFixture[str],
                                           live_server: LiveServer) -> None:
    ids = []
    for org, app, test, target in BRIEF_EXAMPLE:
        code, out, _ = run(capsys, live_server, "submit", f"--org-id={org}",
                           f"--app-version-id={app}", f"--test={test}", f"--target={target}")
        assert code == 0
        ids.append(out.strip())
    assert all(len(i) == 26 for i in ids)
    code, out, _ = run(capsys, live_server, "status", "--job-id", ids[0], "--json")
    assert json.loads(out)["status"] == "queued"
    code, out, _ = run(capsys, live_server, "status", "--job-id", ids[0])
    assert code == 0 and out.startswith("job "), out  # no blank header line above it
    code, out, _ = run(capsys, live_server, "groups", "--json")
    groups = [json.loads(line) for line in out.splitlines()]
    assert sorted(len(g["job_ids"]) for g in groups) == [1, 1, 3]
    with running_agent(live_server.url, SimulateExecutor(0.05, 0.05)):
        code, out, err = run(capsys, live_server, "wait", "--timeout", "30",
                             *[arg for i in ids for arg in ("--job-id", i)])
    assert code == 0, err
    assert "5 job(s): 5 completed" in err
    code, out, _ = run(capsys, live_server, "jobs", "--json", "--status", "completed")
    assert len(out.splitlines()) == 5


def test_a_submit_bigger_than_a_request_keeps_order_and_is_found_again(
        capsys: pytest.CaptureFixture[str], live_server: LiveServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("qgjob.cli.jobs.SUBMIT_CHUNK", 40)  # 7 requests, 2 under way at once
    tests = [arg for n in range(250) for arg in ("--test", f"tests/flow-{n:03}.spec.js")]
    ids = submit(capsys, live_server, "--idempotency-key=deploy-9", *tests)
    assert len(ids) == len(set(ids)) == 250
    again = submit(capsys, live_server, "--idempotency-key=deploy-9", *tests)
    assert again == ids  # a retried step finds every chunk's jobs, in the same order
    code, out, _ = run(capsys, live_server, "jobs", "--json", "--limit=1000")
    assert code == 0
    listed = {j["job_id"]: j["test_path"] for j in map(json.loads, out.splitlines())}
    assert len(listed) == 250
    assert [listed[i] for i in ids] == [f"tests/flow-{n:03}.spec.js" for n in range(250)]


def test_several_tests_in_one_submit(capsys: pytest.CaptureFixture[str],
                                     live_server: LiveServer) -> None:
    ids = submit(capsys, live_server, "--test", "tests/a.spec.js", "--test=tests/b.spec.js",
                 "--priority", "urgent")
    assert len(ids) == 2
    _code, out, _ = run(capsys, live_server, "jobs", "--json")
    jobs = [json.loads(line) for line in out.splitlines()]
    assert {j["priority"] for j in jobs} == {5}
    assert {j["test_path"] for j in jobs} == {"tests/a.spec.js", "tests/b.spec.js"}


def test_submit_wait_exit_codes(capsys: pytest.CaptureFixture[str],
                                live_server: LiveServer) -> None:
    with running_agent(live_server.url, SimulateExecutor(0, 0.02)):
        code, out, _ = run(capsys, live_server, "submit", "--org-id=a", "--app-version-id=v1",
                           "--test=t.spec.js", "--wait", "--timeout=30", "--json")
        assert code == 0
        assert json.loads(out.splitlines()[-1])["status"] == "completed"
    with running_agent(live_server.url, SimulateExecutor(0, 0.02, fail_rate=1.0)):
        code, out, err = run(capsys, live_server, "submit", "--org-id=a", "--app-version-id=v1",
                             "--test=t.spec.js", "--max-attempts=1", "--wait", "--timeout=30")
    assert code == 1, err
    assert "1 failed" in err


def test_wait_times_out_with_exit_3(capsys: pytest.CaptureFixture[str],
                                    live_server: LiveServer) -> None:
    [job_id] = submit(capsys, live_server, "--test=t.spec.js")
    code, _, err = run(capsys, live_server, "wait", "--job-id", job_id, "--timeout", "0.3")
    assert code == 3
    assert "timed out" in err


def test_cancel(capsys: pytest.CaptureFixture[str], live_server: LiveServer) -> None:
    [job_id] = submit(capsys, live_server, "--test=t.spec.js")
    code, out, _ = run(capsys, live_server, "cancel", "--job-id", job_id)
    assert (code, out.strip()) == (0, f"cancelled {job_id}")
    code, _, err = run(capsys, live_server, "cancel", "--job-id", job_id)
    assert code == 2 and "already cancelled" in err
    code, _, _ = run(capsys, live_server, "wait", "--job-id", job_id)
    assert code == 1  # a cancelled job is not a pass


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["submit", "--org-id=a", "--app-version-id=b", "--test=t.js", "--priority=9"],
         "priority 9 is out of range"),
        (["submit", "--org-id=a", "--app-version-id=b", "--test=t.js", "--target=tv"],
         "target 'tv' is not one of"),
        (["submit", "--app-version-id=b", "--test=t.js"], "--org-id"),
        (["submit", "--org-id=a", "--app-version-id=b", "--test=/etc/passwd"], "relative"),
        (["submit", "--org-id=a", "--app-version-id=b", "--test=../x.js"], "'..'"),
        (["submit", "--org-id=a b", "--app-version-id=b", "--test=t.js"], "org_id"),
        (["status", "--job-id", "does-not-exist"], "no job with id 'does-not-exist'"),
        (["wait", "--job-id", "does-not-exist"], "no job with id"),
        (["jobs", "--status", "done"], "--status"),
        (["frobnicate"], "No such command"),
        (["agent", "--devices", "emulator:²"], "positive whole number"),
        (["agent", "--devices", "emulator:1", "--name", "bad name"], "agent name"),
        (["submit", "--org-id=a", "--app-version-id=b", "--test=t.js", "--priority=²"],
         "priority"),
        (["wait", "--job-id", "x", "--timeout", "-1"], "--timeout"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                          live_server: LiveServer, args: list[str],
                                          says: str) -> None:
    code, _out, err = run(capsys, live_server, *args)
    assert code == 2
    assert says in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("qgjob: error: ")
    assert "Traceback" not in err
    _, listed, _ = run(capsys, live_server, "jobs", "--json")
    assert listed == ""


def test_a_server_url_without_scheme_is_a_usage_error(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "localhost:8000", "status", "--job-id", "x")
    assert code == 2 and "http://" in err


@pytest.mark.parametrize("command", ["status", "logs", "cancel", "wait"])
@pytest.mark.parametrize("job_id", ["a b", "?x=1", "a/b"])
def test_a_job_id_no_path_could_carry_is_a_usage_error(
        capsys: pytest.CaptureFixture[str], command: str, job_id: str) -> None:
    """It went into the URL as it was: a space read as an unreachable server (exit 4), a '?'
    as "HTTP 307", a '/' as "Not Found". The server is unreachable here on purpose: the id
    is refused before any request."""
    code, _, err = run(capsys, "http://127.0.0.1:9", command, "--job-id", job_id)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "--job-id" in err


@pytest.mark.parametrize(("args", "says"), [
    (["up", "--test-seconds", "inf"], "'--test-seconds': inf is not a finite number"),
    (["up", "--install-seconds", "nan"], "'--install-seconds': nan is not a finite number"),
    (["up", "--fail-rate", "1.5"], "'--fail-rate': 1.5 is above 1"),
    (["agent", "--timeout", "nan"], "'--timeout': nan is not a finite number"),
    (["agent", "--install-fail-rate", "-0.1"], "'--install-fail-rate': -0.1 is below 0"),
    (["queue", "--watch", "--interval", "nan"], "'--interval': nan is not a finite number"),
    (["wait", "--job-id", "x", "--timeout", "inf"], "'--timeout': inf is not a finite number"),
    (["cancel", "--job-id", "x", "--timeout", "ten"], "'--timeout': 'ten' is not a number"),
    (["stats", "--days", "1e400"], "'--days': 1e400 is not a finite number"),
])
def test_a_number_option_takes_finite_numbers_in_range(
        capsys: pytest.CaptureFixture[str], args: list[str], says: str) -> None:
    """`--test-seconds inf` started `qgjob up` with agents that would sleep forever, and
    `--interval nan` read "Input should be less than or equal to 60". Refused before anything
    starts or any request is made (the server here is unreachable on purpose)."""
    code, _, err = run(capsys, "http://127.0.0.1:9", *args)
    assert code == 2, err
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_unreachable_server_is_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "http://127.0.0.1:9", "status", "--job-id", "x")
    assert code == 4
    assert "cannot reach the qgjob server" in err and len(err.strip().splitlines()) == 1


def test_tables_for_people(capsys: pytest.CaptureFixture[str], live_server: LiveServer) -> None:
    [job_id] = submit(capsys, live_server, "--test=tests/login.spec.js")
    _, out, _ = run(capsys, live_server, "jobs")
    assert job_id in out and "tests/login.spec.js" in out and "queued" in out
    _, out, _ = run(capsys, live_server, "groups")
    assert "xyz123" in out and job_id in out
    _, out, _ = run(capsys, live_server, "queue")
    assert out.startswith("1 queued, 0 running")
    _, out, _ = run(capsys, live_server, "status", "--job-id", job_id)
    assert "tests/login.spec.js" in out
    _, _, err = run(capsys, live_server, "agents")
    assert "no agents" in err


@pytest.mark.parametrize("module", ["qgjob", "qgjob.cli"])
def test_module_entry_points(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    assert "submit" in done.stdout and "wait" in done.stdout


def test_submit_twice_with_one_key(capsys: pytest.CaptureFixture[str],
                                   live_server: LiveServer) -> None:
    args = ("--test=tests/a.spec.js", "--test=tests/b.spec.js", "--idempotency-key=run-7")
    first = submit(capsys, live_server, *args)
    again = submit(capsys, live_server, *args)
    assert first == again and len(first) == 2
    _, listed, _ = run(capsys, live_server, "jobs", "--json")
    assert len(listed.splitlines()) == 2


def test_logs_and_follow(capsys: pytest.CaptureFixture[str], live_server: LiveServer) -> None:
    [job_id] = submit(capsys, live_server, "--test=tests/login.spec.js", "--max-attempts=2")
    with running_agent(live_server.url, SimulateExecutor(0, 0.5, fail_rate=1.0)):
        code, out, _ = run(capsys, live_server, "logs", "--job-id", job_id, "--follow")
    assert code == 0
    assert out.count("[simulation] running tests/login.spec.js") == 2  # both attempts
    assert "--- attempt 2 ---" in out and out.rstrip().endswith("[simulation] failed")
    code, out, _ = run(capsys, live_server, "logs", "--job-id", job_id, "--attempt", "1")
    assert code == 0 and out.count("running") == 1
    code, _, err = run(capsys, live_server, "logs", "--job-id", "nope")
    assert code == 2 and "no job" in err


def running_job(live: LiveServer) -> tuple[str, str, str]:
    """A job started on a hand-driven agent: (job id, agent id, lease id)."""
    import httpx

    job = {"org_id": "qualgent", "app_version_id": "xyz123", "test_path": "t.spec.js"}
    job_id = httpx.post(f"{live.url}/jobs", json=job).json()["job_id"]
    agent = httpx.post(f"{live.url}/agents", json={
        "name": "hand", "executor": "simulate",
        "devices": [{"name": "emulator-1", "target": "emulator"}]}).json()["agent"]["agent_id"]
    batch = httpx.post(f"{live.url}/agents/{agent}/claim", json={
        "device": "emulator-1", "target": "emulator"}).json()
    httpx.post(f"{live.url}/agents/{agent}/jobs/{job_id}/start",
               json={"lease_id": batch["lease_id"]})
    return job_id, agent, batch["lease_id"]


@pytest.mark.parametrize(("outcome", "code", "says"), [
    ("passed", 2, "completed before the cancel reached it; nothing was cancelled"),
    ("cancelled", 0, "cancelled "),
])
def test_cancelling_a_running_job_says_which_happened(
        capsys: pytest.CaptureFixture[str], live_server: LiveServer, outcome: str, code: int,
        says: str) -> None:
    import threading

    import httpx

    job_id, agent, lease = running_job(live_server)
    report = {"lease_id": lease, "attempt": 1, "outcome": outcome}

    def end() -> None:
        # Once the cancel is requested, the agent reports: "cancelled" when it has seen the
        # cancel, "passed" when its test ended before the cancel reached it. (Reporting on a
        # timer instead raced the CLI's own start on a busy machine.)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not httpx.get(
                f"{live_server.url}/jobs/{job_id}").json()["cancel_requested"]:
            time.sleep(0.05)
        httpx.post(f"{live_server.url}/agents/{agent}/jobs/{job_id}/report", json=report)

    ends = threading.Timer(0.0, end)
    ends.start()
    try:
        got, out, err = run(capsys, live_server, "cancel", "--job-id", job_id)
    finally:
        ends.join()
    assert got == code
    assert says in (out if code == 0 else err)


def test_cancel_says_when_a_running_job_has_not_stopped(capsys: pytest.CaptureFixture[str],
                                                        live_server: LiveServer) -> None:
    job_id, _, _ = running_job(live_server)
    code, _, err = run(capsys, live_server, "cancel", "--job-id", job_id, "--timeout", "0.3")
    assert code == 3 and "still runs after 0.3s" in err
    code, out, _ = run(capsys, live_server, "cancel", "--job-id", job_id, "--timeout", "0")
    assert code == 0 and "its agent stops it at the next heartbeat" in out


def test_a_retried_submit_says_on_stderr_it_found_its_jobs_without_a_terminal(
        capsys: pytest.CaptureFixture[str], live_server: LiveServer) -> None:
    """A retried CI step's log (no terminal) says its jobs were found, not queued again; a
    first submit there prints the ids alone, as scripts expect."""
    args = ("submit", "--org-id=qualgent", "--app-version-id=xyz123",
            "--test=tests/a.spec.js", "--idempotency-key=ci-step-3")
    code, first, err = run(capsys, live_server, *args)
    assert code == 0 and err == ""
    code, again, err = run(capsys, live_server, *args)
    assert code == 0 and again == first
    assert "found, submitted before with the same idempotency key" in err
