import json
from pathlib import Path

import pytest

from qgjob.scheduler.registry import policy_named
from qgjob.sim.plan import scaled, simulate_fleet
from qgjob.sim.trace import load_trace
from tests.cli.test_simulate import run
from tests.sim.test_simulator import TRACES


def test_plan_recommends_a_fleet_that_meets_the_goal(capsys: pytest.CaptureFixture[str]) -> None:
    trace = TRACES / "burst.json"
    code, out, err = run(capsys, "plan", str(trace), "--devices", "emulator:2..6",
                         "--devices", "device:+6,browserstack:+8", "--load", "1.2x",
                         "--p95-wait", "15m", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["load"] == 1.2 and result["p95_wait_goal"] == 900
    assert result["fleets"][0]["fleet"] == {"emulator": 6, "device": 2, "browserstack": 4}
    assert len(result["fleets"]) == 6  # today (also emulator:6) and five alternatives
    fleet = result["recommended"]["fleet"]
    assert result["recommended_meets_goal"] is True
    checked = simulate_fleet(scaled(load_trace(trace), 1.2), fleet, policy_named("qgjob"))
    assert all(t.p95_wait <= 900 for t in checked.targets.values())


def test_plan_prints_a_table_per_target(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", str(TRACES / "brief.json"), "--devices", "emulator:+1",
                       "--p95-wait", "10m")
    assert code == 0
    assert "wait p95" in out and "turnaround p95" in out and "today" in out
    assert "Smallest fleet found" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--devices", "phone:2"], "target must be one of"),
    (["--devices", "emulator:0"], "keep at least one device"),
    (["--load", "0x"], "--load"),
    (["--p95-wait", "soon"], "--p95-wait"),
])
def test_plan_refuses_bad_options_in_one_line(capsys: pytest.CaptureFixture[str],
                                              args: list[str], message: str) -> None:
    code, _, err = run(capsys, "plan", str(TRACES / "brief.json"), *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_plan_draws_a_chart(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    chart = tmp_path / "wait.png"
    code, _, err = run(capsys, "plan", str(TRACES / "brief.json"), "--devices",
                       "emulator:1..3", "--chart", str(chart))
    assert code == 0, err
    assert chart.read_bytes().startswith(b"\x89PNG")
