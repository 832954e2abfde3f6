import json
from pathlib import Path

import pytest

from qgjob.cli.main import main
from qgjob.sim.trace import load_trace
from tests.sim.schedule_checker import check_schedule
from tests.sim.test_simulator import SHARED


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_simulate_writes_a_feasible_schedule(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    trace = SHARED / "burst.json"
    if not trace.exists():
        pytest.skip(f"the shared traces are not next to this checkout ({SHARED})")
    out_file = tmp_path / "schedule.json"
    code, out, _ = run(capsys, "simulate", str(trace), "--schedule-out", str(out_file),
                       "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["trace"] == "burst" and summary["policy"] == "qgjob"
    assert summary["makespan_ratio"] <= 1.08 and summary["install_ratio"] <= 2.0
    schedule = json.loads(out_file.read_text())
    assert schedule["policy"] == "qgjob" and schedule["trace"] == "burst"
    assert check_schedule(load_trace(trace), schedule["events"]) == []
    code, out, _ = run(capsys, "simulate", str(trace), "--policy", "fifo")
    assert code == 0 and "fifo" in out and "installs" in out


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
