"""`qgjob agent`: hold devices, pull work, run it with an executor."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qgjob.cli.app import app, given, globals_of
from qgjob.cli.errors import EXIT_USAGE, CliError
from qgjob.cli.numbers import number
from qgjob.cli.processes import (
    FailOption,
    InstallOption,
    LogLevelOption,
    TestOption,
    devices_option,
)

if TYPE_CHECKING:
    from qgjob.agent.identity import AgentIdentity


@app.command()
def agent(
    ctx: typer.Context,
    devices: Annotated[str, typer.Option(
        "--devices", help="e.g. emulator:2,device:1, or auto (adb devices / xcrun simctl).")],
    name: Annotated[str | None, typer.Option(
        "--name", help="Unique name of this agent (default: the host name, or HOST-2, "
                       "HOST-3… when other agents on this host hold it).")] = None,
    executor: Annotated[str, typer.Option(
        "--executor", help="simulate (a labelled simulation), command or appwright "
                           "(qgjob/agent/executors/registry.py).")]
    = "simulate",
    run_cmd: Annotated[str | None, typer.Option(
        "--run-cmd", help="command: the test command, an argv template with {test_path}, "
                          "{app_version_id}, {target}, {job_id}, {org_id}, {device}.")] = None,
    install_cmd: Annotated[str | None, typer.Option(
        "--install-cmd", help="command: run once per app build on a device.")] = None,
    workdir: Annotated[Path | None, typer.Option(
        "--workdir", help="command: where the commands run.")] = None,
    project_dir: Annotated[Path | None, typer.Option(
        "--project-dir", help="appwright: the AppWright project (its package.json).")] = None,
    project_map: Annotated[str | None, typer.Option(
        "--project-map", help="appwright: target=project pairs, e.g. emulator=pixel-emu "
                              "(default: each target's own name).")] = None,
    build_template: Annotated[str, typer.Option(
        "--build-template", help="appwright: the app build the suite gets, from the job's "
                                 "build id, e.g. builds/{app_version_id}.apk")]
    = "{app_version_id}",
    build_env: Annotated[str, typer.Option(
        "--build-env", help="appwright: the environment variable that carries it.")]
    = "APP_BUILD_PATH",
    timeout: Annotated[float, typer.Option(
        "--timeout", parser=number(1),
        help="command/appwright: seconds per job (at least 1) before its process group is "
             "killed.")] = 900.0,
    install_seconds: InstallOption = 2.0,
    test_seconds: TestOption = 3.0,
    fail_rate: FailOption = 0.0,
    install_fail_rate: Annotated[float, typer.Option(
        "--install-fail-rate", parser=number(0, 1),
        help="simulate: share of installs that fail (a sick device).")] = 0.0,
    execution_log: Annotated[Path | None, typer.Option(
        "--execution-log", help="simulate: append a line per test run to this file.")] = None,
    log_level: LogLevelOption = "info",
) -> int:
    """Run an agent that holds devices and pulls work from the server."""
    from qgjob.agent.executors.registry import ExecutorOptions, OptionError, build_executor
    from qgjob.processes import configure_logging, run_agent

    _options_of_the_executor(ctx, executor)
    options = globals_of(ctx)
    token = options.checked_token()
    specs = devices_option(devices, may_discover=True)
    try:
        chosen = build_executor(executor, ExecutorOptions(
            run_cmd=run_cmd, install_cmd=install_cmd, workdir=workdir,
            project_dir=project_dir, project_map=project_map, build_template=build_template,
            build_env=build_env, timeout=timeout, install_seconds=install_seconds,
            test_seconds=test_seconds, fail_rate=fail_rate,
            install_fail_rate=install_fail_rate, execution_log=execution_log))
    except OptionError as bad:
        raise typer.BadParameter(str(bad), param_hint=" or ".join(
            f"'{option}'" for option in bad.options)) from None
    identity = _identity(name)  # holds this host's agent name: taken once the options hold
    configure_logging(log_level)
    import asyncio

    from qgjob.agent.client import NameInUse

    try:
        asyncio.run(run_agent(options.server, token, identity, specs, chosen))
    except NameInUse as taken:
        raise CliError(EXIT_USAGE, str(taken)) from None
    return 0


def _identity(name: str | None) -> AgentIdentity:
    """This process's hold on its name (see qgjob/agent/identity.py)."""
    from qgjob.agent.identity import AgentIdentity, NameTaken, identity_folder
    from qgjob.domain.values import InvalidValue, check_name

    try:
        if name is not None:
            return AgentIdentity.hold(identity_folder(), check_name(name, "agent name"))
        host = check_name(socket.gethostname().split(".")[0] or "agent", "host name")
        return AgentIdentity.first_free(identity_folder(), host)
    except InvalidValue as bad:
        raise typer.BadParameter(str(bad), param_hint="'--name'") from None
    except NameTaken as taken:
        raise CliError(EXIT_USAGE, str(taken)) from None


def _options_of_the_executor(ctx: typer.Context, executor: str) -> None:
    """An option of another executor is refused: `--run-cmd false` beside the default
    simulation ran nothing and reported every job passed."""
    from qgjob.agent.executors.registry import EXECUTORS

    chosen = EXECUTORS.get(executor)
    if chosen is None:
        return  # build_executor names the executors there are
    others = dict.fromkeys(field for kind in EXECUTORS.values() for field in kind.reads
                           if field not in chosen.reads)
    for field in others:
        if given(ctx, field):
            readers = [kind.name for kind in EXECUTORS.values() if field in kind.reads]
            raise CliError(EXIT_USAGE, f"--{field.replace('_', '-')} is for --executor "
                                       f"{' or '.join(readers)}, not {executor}")
