import io
import json
from pathlib import Path

import pytest

from qgjob.cli.main import main
from qgjob.sim.trace import load_trace
from tests.sim.schedule_checker import check_schedule
from tests.sim.test_simulator import TRACES


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_simulate_writes_a_feasible_schedule(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    trace = TRACES / "burst.json"
    out_file = tmp_path / "schedule.json"
    code, out, _ = run(capsys, "simulate", str(trace), "--schedule-out", str(out_file),
                       "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["trace"] == "burst-gen1" and summary["policy"] == "qgjob"
    schedule = json.loads(out_file.read_text())
    assert schedule["policy"] == "qgjob" and schedule["trace"] == "burst-gen1"
    assert check_schedule(load_trace(trace), schedule["events"]) == []
    code, out, _ = run(capsys, "simulate", str(trace), "--policy", "fifo", "--json")
    fifo = json.loads(out)
    assert code == 0 and fifo["policy"] == "fifo"
    assert summary["installs"] < fifo["installs"]  # the point of grouping
    code, out, _ = run(capsys, "simulate", str(trace))
    assert code == 0 and "installs" in out and "makespan" in out
    assert out.startswith("trace "), out  # as in the README: no blank header line above


def test_trace_writes_the_shipped_examples(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    for path in sorted(TRACES.glob("*.json")):
        written = tmp_path / path.name
        code, _, err = run(capsys, "trace", path.stem, "--out", str(written))
        assert code == 0, err
        assert written.read_text() == path.read_text()
    code, out, _ = run(capsys, "trace", "burst", "--seed", "7")
    assert code == 0 and json.loads(out)["name"] == "burst-gen7"


def test_simulate_reads_a_trace_from_stdin(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO((TRACES / "brief.json").read_text()))
    code, out, _ = run(capsys, "simulate", "-", "--json")
    summary = json.loads(out)
    assert code == 0 and (summary["installs"], summary["passed"]) == (3, 5)
    monkeypatch.setattr("sys.stdin", io.StringIO("{"))
    code, _, err = run(capsys, "simulate", "-")
    assert code == 2 and "stdin is not JSON" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "args", "says"),
    [
        (None, [], "cannot read"),
        ("not json", [], "is not JSON"),
        ('{"devices": [], "jobs": []}', [], "at least one device"),
        ('{"devices": [{"id": "e", "target": "emulator"}], "jobs": []}', ["--policy", "x"],
         "unknown policy"),
    ],
)
def test_bad_traces_and_options(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                content: str | None, args: list[str], says: str) -> None:
    trace = tmp_path / "trace.json"
    if content is not None:
        trace.write_text(content)
    code, _, err = run(capsys, "simulate", str(trace), *args)
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("args", "says"), [
    (["trace", "surge"], "unknown trace kind 'surge'"),
    (["trace", "burst", "--out", "/proc/no/such/dir.json"], "cannot write"),
    (["trace", "burst", "--seed", "x"], "--seed"),
    (["trace", "burst", "--out", ""], "'--out': the path is empty: name a file, or - for "
                                      "standard output"),
    (["simulate", ""], "'TRACE.json': the path is empty: name a file, or - for standard input"),
    (["plan", ""], "'TRACE.json': the path is empty: name a file, or - for standard input"),
])
def test_bad_trace_requests(capsys: pytest.CaptureFixture[str], args: list[str],
                            says: str) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1
    assert out == ""


def test_out_dash_is_stdout_as_a_trace_dash_is_stdin(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "trace", "brief", "--out", "-")
    assert code == 0, err
    assert out == (TRACES / "brief.json").read_text() and list(tmp_path.iterdir()) == []


def test_a_trace_without_jobs_gives_valid_json_and_says_so(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Means and ratios of nothing were NaN, which is not JSON (jq and strict parsers refuse
    it): they are null, and the table says there is nothing to schedule."""
    trace = tmp_path / "empty.json"
    trace.write_text('{"name": "empty", "devices": [{"id": "e", "target": "emulator"}], '
                     '"jobs": []}')
    code, out, _ = run(capsys, "simulate", str(trace), "--json")
    assert code == 0

    def refuse(constant: str) -> None:
        raise ValueError(constant)

    summary = json.loads(out, parse_constant=refuse)
    assert summary["jobs"] == 0 and summary["installs"] == 0
    assert summary["mean_turnaround"] is None and summary["makespan_ratio"] is None
    code, out, _ = run(capsys, "simulate", str(trace))
    assert code == 0 and "no jobs, nothing to schedule" in out and "nan" not in out


def test_a_baseline_and_qgjob_retry_at_once_as_the_server_does_by_default(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`--policy fifo` once ran FIFO through the server's retry backoff, where the goals'
    reference FIFO queues a failed attempt again at once: a user comparing the two saw a FIFO
    slower than the one qgjob is judged against. The server now retries at once by default
    (QGJOB_RETRY_BASE_SECONDS=0), and `simulate` runs qgjob as the server does."""
    trace = {"name": "one-flaky-test", "install_seconds": {"emulator": 2.0},
             "devices": [{"id": "emulator-1", "target": "emulator"}],
             "jobs": [{"id": "j1", "org_id": "acme", "app_version_id": "v1",
                       "test_path": "tests/a.spec.js", "target": "emulator", "priority": 3,
                       "submit_at": 0.0, "duration": 10.0, "outcomes": ["fail", "pass"]}]}
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace))
    starts = {}
    for policy in ("fifo", "qgjob"):
        out_file = tmp_path / f"{policy}.json"
        code, _, err = run(capsys, "simulate", str(path), "--policy", policy,
                           "--schedule-out", str(out_file))
        assert code == 0, err
        tests = [e for e in json.loads(out_file.read_text())["events"] if e["kind"] == "test"]
        assert [e["outcome"] for e in tests] == ["fail", "pass"]
        starts[policy] = tests[1]["start"] - tests[0]["end"]
    assert starts == {"fifo": 0.0, "qgjob": 0.0}


@pytest.mark.parametrize("where", ["a folder", "in a missing folder"])
def test_an_unwritable_schedule_out_is_refused_before_the_simulation(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        where: str) -> None:
    """A long simulation is not run for a schedule it could not write."""
    from qgjob.sim.engine import Simulator

    def not_run(self: Simulator) -> None:
        raise AssertionError("simulated before the output was checked")

    monkeypatch.setattr(Simulator, "run", not_run)
    out = tmp_path if where == "a folder" else tmp_path / "missing" / "schedule.json"
    code, _, err = run(capsys, "simulate", str(TRACES / "burst.json"), "--schedule-out",
                       str(out))
    assert code == 2
    assert err.strip().count("\n") == 0 and f"cannot write {out}" in err


@pytest.mark.parametrize("as_json", [False, True])
def test_schedule_out_dash_writes_the_schedule_to_stdout_and_the_summary_to_stderr(
        capsys: pytest.CaptureFixture[str], as_json: bool) -> None:
    """`--schedule-out -` is stdout, as `-` is for every other output option (it made a
    file named `-`); the summary moves to stderr so stdout stays one JSON document."""
    trace = TRACES / "burst.json"
    code, out, err = run(capsys, "simulate", str(trace), "--schedule-out", "-",
                         *(["--json"] if as_json else []))
    assert code == 0, err
    schedule = json.loads(out)
    assert schedule["policy"] == "qgjob"
    assert check_schedule(load_trace(trace), schedule["events"]) == []
    if as_json:
        assert json.loads(err)["trace"] == "burst-gen1"
    else:
        assert err.startswith("trace ") and "makespan" in err
    assert not Path("-").exists()
