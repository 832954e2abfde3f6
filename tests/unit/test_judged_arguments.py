"""`benchmarks.judged` runs the scheduling judge's tools, which are not part of this repository:
without them, or with a constant the policy does not have, it says so in one line (exit 2)
before it starts a pool or writes a result; so do `benchmarks.hindsight` and
`benchmarks.best_schedule` given `--tools`."""

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.judged import constant, result_name


def test_a_constant_is_one_of_the_policys_with_a_value_of_its_type() -> None:
    assert constant("install_budget_share=0.47") == ("install_budget_share", 0.47)
    assert constant("max_batch=2") == ("max_batch", 2)
    for bad, message in (("nope=1", "not one of the policy's constants"),
                         ("max_batch=2.5", "not a whole number"),
                         ("aging_seconds=soon", "not a number"),
                         ("name=qgjob", "not one of the policy's constants")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            constant(bad)


def test_a_trial_is_written_beside_the_default_result_not_over_it() -> None:
    assert result_name("steady", 9000, 100, [], {}) == "judged-steady-9000"
    assert result_name("steady", 9000, 200, ["fleet x0.5", "installs x4"],
                       {"max_batch": 2, "install_budget_share": 0.48}) == (
        "judged-steady-9000-n200-fleet-x0.5-installs-x4-install_budget_share-0.48-max_batch-2")
    assert result_name("priority", 6800, 100, [], {"aging_seconds": 600.0}) \
        == "judged-priority-6800-aging_seconds-600.0"


@pytest.mark.parametrize(("args", "error"), [
    (["steady"], "the following arguments are required: --tools"),
    (["steady", "--tools", "{empty}"], "no tracegen.py, refsim.py, schedcheck.py, sweep.py"),
    (["lunch", "--tools", "{empty}"], "argument KIND: invalid choice: 'lunch'"),
    (["steady", "--tools", "{empty}", "--seeds", "0"], "argument --seeds: must be at least 1"),
    (["burst", "priority", "--tools", "{empty}", "--variant", "a handful of jobs"],
     "the judge's priority goals need a priority-5 build, which the first six jobs"),
    (["flood", "--tools", "{empty}", "--variant", "a handful of jobs"],
     "the judge's flood goals need a small org's build"),
])
def test_it_refuses_what_it_cannot_run_in_one_line(tmp_path: Path, args: list[str],
                                                    error: str) -> None:
    args = [arg.replace("{empty}", str(tmp_path)) for arg in args]
    result = subprocess.run([sys.executable, "-m", "benchmarks.judged", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert error in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("module", ["benchmarks.hindsight", "benchmarks.best_schedule"])
def test_the_other_instruments_say_in_one_line_without_the_judges_tools(tmp_path: Path,
                                                                         module: str) -> None:
    result = subprocess.run([sys.executable, "-m", module, "--tools", str(tmp_path),
                             "--seeds", "1"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "no tracegen.py, refsim.py, schedcheck.py, sweep.py" \
        in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
