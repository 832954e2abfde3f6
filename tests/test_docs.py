"""The README's promises that a script can check."""

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_ci_runs_the_readme_test_command() -> None:
    main_job, test_command = readme_commands()
    assert main_job == "pip install . && qgjob up"
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()


def test_documented_benchmark_commands_exist() -> None:
    text = (ROOT / "README.md").read_text()
    for module in re.findall(r"python -m (benchmarks\.[a-z_]+)", text):
        assert (ROOT / (module.replace(".", "/") + ".py")).exists(), module
