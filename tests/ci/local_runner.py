"""Runs one job of a GitHub Actions workflow on this machine, step by step, the way the
runner does: `run:` steps with bash in the workspace, `${{ … }}` expressions substituted,
`if:` conditions, `$GITHUB_OUTPUT` / `$GITHUB_ENV` files, local composite actions
(`uses: ./`) expanded into their own steps. Actions from elsewhere (checkout, setup-python,
upload-artifact) are recorded, not run: the workspace stands for the checkout, this
virtualenv for the Python they would set up, and `pip` is a stub that notes its arguments
(qgjob is installed here already, and a test must not download anything).

Only the expressions and conditions our workflows use are understood; anything else fails
the test by name rather than being guessed at."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
STEP_TIMEOUT = 180.0
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_STATUS = ("always()", "success()", "failure()", "!cancelled()")


class Unsupported(AssertionError):
    """The workflow uses something this local runner does not understand."""


@dataclass
class StepRun:
    name: str
    outcome: str  # success, failure, skipped or external
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    uses: str | None = None
    given: dict[str, str] = field(default_factory=dict)  # `with:`, substituted


@dataclass
class Scope:
    """What the expressions of one job, or of one action inside it, can see."""

    contexts: dict[str, str]
    inputs: dict[str, str]
    env: dict[str, str]
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    failed: bool = False

    def value(self, expression: str) -> str:
        for term in (t.strip() for t in expression.split("||")):
            if found := self._term(term):
                return found
        return ""

    def _term(self, term: str) -> str:
        if term.startswith("'") and term.endswith("'"):
            return term[1:-1]
        head, _, rest = term.partition(".")
        if head == "env":
            return self.env.get(rest, "")
        if head == "inputs":
            return self.inputs.get(rest, "")
        if head == "steps" and ".outputs." in rest:
            step_id, _, name = rest.partition(".outputs.")
            return self.steps.get(step_id, {}).get(name, "")
        if head in ("secrets", "vars"):
            return self.contexts.get(term, "")
        if term in self.contexts:
            return self.contexts[term]
        raise Unsupported(f"expression {term!r}")

    def substitute(self, text: Any) -> str:
        return _EXPRESSION.sub(lambda m: self.value(m.group(1)), str(text))

    def should_run(self, condition: str | None) -> bool:
        terms = [t.strip() for t in _unwrap(condition or "").split("&&") if t.strip()]
        statuses = [{"always()": True, "!cancelled()": True, "success()": not self.failed,
                     "failure()": self.failed}[t] for t in terms if t in _STATUS]
        checks = [self._compare(t) for t in terms if t not in _STATUS]
        return (all(statuses) if statuses else not self.failed) and all(checks)

    def _compare(self, term: str) -> bool:
        match = re.fullmatch(r"(.+?)\s*(==|!=)\s*'(.*)'", term)
        if not match:
            raise Unsupported(f"condition {term!r}")
        return (self.value(match[1]) == match[3]) == (match[2] == "==")


def _unwrap(condition: str) -> str:
    match = _EXPRESSION.fullmatch(condition.strip())
    return match[1] if match else condition


class LocalRunner:
    def __init__(self, workspace: Path, temp: Path, contexts: dict[str, str],
                 machine_env: dict[str, str] | None = None) -> None:
        self.workspace, self.temp, self.contexts = workspace, temp, contexts
        self.summary = temp / "step-summary.md"
        self.pip_calls = temp / "pip-calls.log"
        self._groups: list[int] = []
        self._base_env = self._machine(machine_env or {})

    def _machine(self, extra: dict[str, str]) -> dict[str, str]:
        stubs = self.temp / "stubs"
        stubs.mkdir(parents=True, exist_ok=True)
        pip = stubs / "pip"
        pip.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{self.pip_calls}'\n")
        pip.chmod(0o755)
        inherited = {k: v for k, v in os.environ.items()
                     if not k.startswith(("GITHUB_", "QGJOB_", "RUNNER_", "INPUT_"))}
        path = os.pathsep.join([str(stubs), str(Path(sys.executable).parent),
                                inherited.get("PATH", "")])
        github = {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": str(self.workspace),
                  "RUNNER_TEMP": str(self.temp), "GITHUB_STEP_SUMMARY": str(self.summary),
                  "GITHUB_SHA": self.contexts["github.sha"],
                  "GITHUB_RUN_ID": self.contexts["github.run_id"],
                  "GITHUB_RUN_ATTEMPT": self.contexts["github.run_attempt"],
                  "GITHUB_REPOSITORY": self.contexts["github.repository"],
                  "GITHUB_JOB": self.contexts["github.job"]}
        return {**inherited, "PATH": path, **github, **extra}

    def run_job(self, workflow: Path, job: str, *, inputs: dict[str, str] | None = None,
                env: dict[str, str] | None = None) -> list[StepRun]:
        """`inputs` are a workflow_dispatch's; `env` replaces values of the workflow's own
        `env:` (each must be there already, so a renamed variable fails the test)."""
        data = yaml.safe_load(workflow.read_text())
        unknown = set(env or {}) - set(data.get("env", {}))
        assert not unknown, f"{workflow.name} has no env {sorted(unknown)}"
        scope = Scope(self.contexts, inputs or {}, {})
        scope.env.update({k: scope.substitute(v) for k, v in data.get("env", {}).items()})
        scope.env.update(env or {})
        spec = data["jobs"][job]
        scope.env.update({k: scope.substitute(v) for k, v in spec.get("env", {}).items()})
        try:
            return self._steps(spec["steps"], scope)
        finally:
            self._end_leftovers()

    def _steps(self, steps: list[dict[str, Any]], scope: Scope) -> list[StepRun]:
        runs = []
        for step in steps:
            name = step.get("name") or step.get("uses") or step["run"].splitlines()[0]
            if not scope.should_run(step.get("if")):
                runs.append(StepRun(name, "skipped"))
                continue
            uses = step.get("uses")
            if uses and uses.startswith("./"):
                run = self._local_action(name, step, scope)
            elif uses:
                given = {k: scope.substitute(v) for k, v in step.get("with", {}).items()}
                run = StepRun(name, "external", uses=uses, given=given)
            else:
                run = self._shell(name, step, scope)
            if "id" in step:
                scope.steps[step["id"]] = run.outputs
            scope.failed = scope.failed or run.outcome == "failure"
            runs.append(run)
        return runs

    def _local_action(self, name: str, step: dict[str, Any], scope: Scope) -> StepRun:
        folder = (ROOT / step["uses"]).resolve()
        action = yaml.safe_load((folder / "action.yml").read_text())
        given = {k: scope.substitute(v) for k, v in step.get("with", {}).items()}
        declared = action.get("inputs", {})
        assert set(given) <= set(declared), f"unknown inputs {set(given) - set(declared)}"
        inputs = {}
        for key, spec in declared.items():
            assert key in given or not spec.get("required"), f"missing input {key!r}"
            inputs[key] = given[key] if key in given else scope.substitute(spec.get("default", ""))
        inner = Scope({**self.contexts, "github.action_path": str(folder)}, inputs, scope.env)
        runs = self._steps(action["runs"]["steps"], inner)
        failing = [r for r in runs if r.outcome == "failure"]
        outputs = {k: inner.substitute(v["value"]) for k, v in action.get("outputs", {}).items()}
        return StepRun(name, "failure" if failing else "success",
                       failing[0].exit_code if failing else 0,
                       "".join(r.stdout for r in runs), "".join(r.stderr for r in runs),
                       outputs, uses=step["uses"], given=given)

    def _shell(self, name: str, step: dict[str, Any], scope: Scope) -> StepRun:
        if step.get("shell", "bash") != "bash":
            raise Unsupported(f"shell {step['shell']!r}")
        files = {kind: self.temp / f"{kind}-{len(self._groups)}" for kind in ("script", "output",
                                                                              "env")}
        files["script"].write_text(scope.substitute(step["run"]))
        files["output"].touch()
        files["env"].touch()
        env = {**self._base_env, **scope.env, "GITHUB_OUTPUT": str(files["output"]),
               "GITHUB_ENV": str(files["env"])}
        env.update({k: scope.substitute(v) for k, v in step.get("env", {}).items()})
        if "github.action_path" in scope.contexts:
            env["GITHUB_ACTION_PATH"] = scope.contexts["github.action_path"]
        process = subprocess.Popen(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(files["script"])],
            cwd=self.workspace, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        self._groups.append(process.pid)
        stdout, stderr = process.communicate(timeout=STEP_TIMEOUT)
        scope.env.update(_commands_file(files["env"]))
        outcome = "success" if process.returncode == 0 else "failure"
        return StepRun(name, outcome, process.returncode, stdout, stderr,
                       _commands_file(files["output"]))

    def _end_leftovers(self) -> None:
        """What the runner does at the end of a job: stop processes steps left behind (each
        step ran in its own process group, which its background children share)."""
        for group in self._groups:
            _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while any(_signal_group(g, 0) for g in self._groups) and time.monotonic() < deadline:
            time.sleep(0.05)
        for group in self._groups:
            _signal_group(group, signal.SIGKILL)


def _signal_group(group: int, sig: int) -> bool:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _commands_file(path: Path) -> dict[str, str]:
    """`$GITHUB_OUTPUT` / `$GITHUB_ENV`: `name=value` lines, or `name<<END` … `END`."""
    values: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, _, end = line.partition("<<")
            body = []
            for inner in lines:
                if inner == end:
                    break
                body.append(inner)
            values[name] = "\n".join(body)
        elif "=" in line:
            name, _, value = line.partition("=")
            values[name] = value
    return values
