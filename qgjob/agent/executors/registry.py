"""The executors an agent can run work with, by name: each a short description and a factory
that builds it from the agent's options (and says which option is wrong, if one is). Adding an
executor is adding an entry here; `qgjob agent --executor NAME` finds it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qgjob.agent.executors.base import Executor


@dataclass(frozen=True)
class ExecutorOptions:
    """Everything `qgjob agent` may pass to a factory; each executor reads its own."""

    run_cmd: str | None = None
    install_cmd: str | None = None
    workdir: Path | None = None
    project_dir: Path | None = None
    project_map: str | None = None
    build_template: str = "{app_version_id}"
    build_env: str = "APP_BUILD_PATH"
    timeout: float = 900.0
    install_seconds: float = 2.0
    test_seconds: float = 3.0
    fail_rate: float = 0.0
    install_fail_rate: float = 0.0
    execution_log: Path | None = None


class OptionError(ValueError):
    """An option an executor cannot work with; `options` names it (or the ones it may be,
    e.g. ("--run-cmd", "--install-cmd"))."""

    def __init__(self, message: str, *options: str) -> None:
        super().__init__(message)
        self.options = options

    @property
    def option(self) -> str:
        """The option named first."""
        return self.options[0]


@dataclass(frozen=True)
class ExecutorKind:
    name: str
    summary: str
    build: Callable[[ExecutorOptions], Executor]
    reads: tuple[str, ...]
    """The `ExecutorOptions` fields it uses (the agent refuses another executor's, given)."""


def _simulate(options: ExecutorOptions) -> Executor:
    from qgjob.agent.executors.simulate import SimulateExecutor

    log = options.execution_log
    if log is not None and (log.is_dir() or not log.parent.is_dir()):
        # Checked at start: found at the first job, every job failed on it.
        raise OptionError(f"{log} is a folder" if log.is_dir()
                          else f"{log.parent} is no folder to write {log.name} in",
                          "--execution-log")

    return SimulateExecutor(options.install_seconds, options.test_seconds, options.fail_rate,
                            execution_log=options.execution_log,
                            install_fail_rate=options.install_fail_rate)


def _command(options: ExecutorOptions) -> Executor:
    from qgjob.agent.executors.command import CommandExecutor
    from qgjob.agent.executors.process import TemplateError

    if not options.run_cmd:
        raise OptionError("the command executor needs --run-cmd", "--run-cmd")
    if options.workdir is not None and not options.workdir.is_dir():
        raise OptionError(f"{options.workdir} is not a folder", "--workdir")
    try:
        return CommandExecutor(options.run_cmd, options.install_cmd, options.timeout,
                               options.workdir)
    except (TemplateError, ValueError) as bad:
        raise OptionError(str(bad), "--run-cmd", "--install-cmd") from None


def _appwright(options: ExecutorOptions) -> Executor:
    from qgjob.agent.executors.appwright import DEFAULT_PROJECTS, AppWrightExecutor

    if options.project_dir is None:
        raise OptionError("the appwright executor needs --project-dir", "--project-dir")
    projects = dict(DEFAULT_PROJECTS)
    for pair in filter(None, (p.strip() for p in (options.project_map or "").split(","))):
        target, _, project = pair.partition("=")
        if target not in DEFAULT_PROJECTS or not project:
            raise OptionError(f"{pair!r} is not target=project with a target of "
                              + ", ".join(DEFAULT_PROJECTS), "--project-map")
        projects[target] = project
    if not options.build_env.isidentifier():
        raise OptionError(f"{options.build_env!r} is not a variable name", "--build-env")
    try:
        return AppWrightExecutor(options.project_dir, projects, options.build_template,
                                 options.build_env, options.timeout)
    except ValueError as bad:
        raise OptionError(str(bad), "--project-dir") from None


EXECUTORS: dict[str, ExecutorKind] = {kind.name: kind for kind in (
    ExecutorKind("simulate", "a labelled simulation: sleeps instead of installing and testing",
                 _simulate, ("install_seconds", "test_seconds", "fail_rate",
                             "install_fail_rate", "execution_log")),
    ExecutorKind("command", "runs a command per test (and one per app build on a device)",
                 _command, ("run_cmd", "install_cmd", "workdir", "timeout")),
    ExecutorKind("appwright", "runs an AppWright project's spec with npx appwright",
                 _appwright, ("project_dir", "project_map", "build_template", "build_env",
                              "timeout")),
)}


def build_executor(name: str, options: ExecutorOptions) -> Executor:
    """The executor called `name`; OptionError for an unknown name or a bad option."""
    kind = EXECUTORS.get(name)
    if kind is None:
        raise OptionError(f"unknown executor {name!r}; available: {', '.join(EXECUTORS)}",
                          "--executor")
    return kind.build(options)
