"""A benchmark asked to time or judge nothing refuses in one line (exit 2), before it starts
a server or writes a result, instead of ending in a traceback from an empty mean."""

import argparse
import shlex
import subprocess
import sys

import pytest

from benchmarks.common import at_least, command_line, seed_count
from benchmarks.scheduling import arguments


def test_a_count_is_a_whole_number_of_at_least_its_minimum() -> None:
    assert at_least(2)("2") == 2 and at_least(0)("0") == 0 and seed_count("3") == 3
    for parse, bad in ((at_least(2), "1"), (at_least(0), "-1"), (at_least(1), "x"),
                       (seed_count, "0"), (at_least(1), "2.5")):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(bad)


@pytest.mark.parametrize(("module", "option", "value"), [
    ("claim_decision", "--decisions", "0"),
    ("soak", "--jobs", "-5"),
    ("stores", "--claims", "none"),
])
def test_a_benchmark_refuses_a_count_it_cannot_run(module: str, option: str,
                                                   value: str) -> None:
    result = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", option, value],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"{module}.py: error: argument {option}:")
    assert "Traceback" not in result.stderr


def test_the_scheduling_benchmark_runs_the_example_traces_alone_with_no_seeds() -> None:
    # The README's command: `python -m benchmarks.scheduling --seeds 0 --gantt docs`.
    assert arguments(["--seeds", "0", "--gantt", "docs"]).seeds == 0
    with pytest.raises(SystemExit):
        arguments(["--seeds", "-1"])


def test_a_results_command_runs_again_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["judged.py", "steady", "--variant", "fleet x2",
                                      "--first", "9000"])
    line = command_line("benchmarks.judged")
    assert line == "python -m benchmarks.judged steady --variant 'fleet x2' --first 9000"
    assert shlex.split(line)[3:] == sys.argv[1:]
    monkeypatch.setattr(sys, "argv", ["sweep.py"])
    assert command_line("benchmarks.sweep") == "python -m benchmarks.sweep"
