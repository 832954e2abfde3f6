"""Commands that run processes: server, agent, up."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qgjob.cli.app import DEFAULT_SERVER, app
from qgjob.cli.errors import EXIT_SERVER, EXIT_USAGE, CliError
from qgjob.cli.numbers import number
from qgjob.servers import server_url

if TYPE_CHECKING:
    from qgjob.agent.executors.base import Executor
    from qgjob.domain.models import DeviceSpec
    from qgjob.settings import ServerSettings
    from qgjob.store.base import Store

DEFAULT_UP_DEVICES = "emulator:3,device:1,browserstack:1"


def _host(raw: str) -> str:
    """`--host`: an empty one binds every address (as 0.0.0.0) yet reads as no address in
    the loopback check's refusal and in the URL printed."""
    if not raw.strip():
        raise typer.BadParameter("must not be empty: an address such as 127.0.0.1, or "
                                 "0.0.0.0 for every address")
    return raw


HostOption = Annotated[str, typer.Option("--host", callback=_host,
                                         help="Address to listen on.")]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535)]


def _db(raw: str | None) -> str | None:
    """`--db`: an empty one would read as "the default" (settings' empty database URL) and
    open a database the user did not name."""
    if raw is not None and not raw.strip():
        raise typer.BadParameter("must not be empty (leave it out for the default database)")
    return raw


DbOption = Annotated[str | None, typer.Option(
    "--db", envvar="QGJOB_DB", show_default=False, callback=_db,
    help="sqlite:///PATH (default: qgjob.db in your user data directory).")]
PreemptionOption = Annotated[bool | None, typer.Option(
    "--preemption/--no-preemption", show_default=False,
    help="Let priority-5 work stop running priority <= 2 jobs (default: off).")]
GroupByOrgOption = Annotated[bool | None, typer.Option(
    "--group-by-org/--group-across-orgs", show_default=False,
    help="Group jobs per org as well (default: across orgs).")]
SIMULATED_SECONDS_MAX = 3600.0
"""The longest simulated install or test: a larger value is a typo, and an install that
sleeps for ever cannot be stopped by a signal (handing back interrupts tests, not
installs)."""
InstallOption = Annotated[float, typer.Option(
    "--install-seconds", parser=number(0, SIMULATED_SECONDS_MAX),
    help="Simulated app install time (at most an hour).")]
TestOption = Annotated[float, typer.Option(
    "--test-seconds", parser=number(0, SIMULATED_SECONDS_MAX),
    help="Simulated test run time (at most an hour).")]
FailOption = Annotated[float, typer.Option("--fail-rate", parser=number(0, 1),
                                           help="Share of simulated attempts that fail.")]
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _log_level(raw: str) -> str:
    """`--log-level`, checked while the options are parsed: before `up` creates the
    database's folder or an agent takes its name (logging itself would only refuse it after)."""
    if raw.lower() not in LOG_LEVELS:
        raise typer.BadParameter(f"{raw!r} is not a log level: use "
                                 f"{', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]}")
    return raw.lower()


LogLevelOption = Annotated[str, typer.Option(
    "--log-level", callback=_log_level,
    help=f"{', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]}.")]
InsecureOption = Annotated[bool, typer.Option(
    "--insecure", help="Listen beyond loopback even with no API tokens: anyone who can reach "
                       "the port may do everything.")]


def server_settings(db: str | None, group_by_org: bool | None = None,
                    preemption: bool | None = None) -> ServerSettings:
    from qgjob.settings import ServerSettings

    try:
        return ServerSettings.from_env(database_url=db, group_by_org=group_by_org,
                                       preemption=preemption)
    except ValueError as bad:
        raise CliError(EXIT_USAGE, str(bad)) from None


def _check_host(host: str) -> None:
    from qgjob.processes import ListenError, check_listen_host

    try:
        check_listen_host(host)
    except ListenError as error:
        raise CliError(EXIT_USAGE, str(error)) from None


def _listen(host: str, port: int) -> socket.socket:
    from qgjob.processes import ListenError, listen_socket

    try:
        return listen_socket(host, port)
    except ListenError as error:
        raise CliError(EXIT_USAGE, str(error)) from None


def devices_option(spec: str, *, may_discover: bool = False) -> list[DeviceSpec]:
    """`--devices`: a list such as `emulator:3,device:1`, or (where `may_discover`) `auto`
    for the devices adb and simctl see; a bad one is a usage error."""
    from qgjob.agent.devices import parse_devices
    from qgjob.domain.values import InvalidValue

    try:
        if may_discover and spec.strip() == "auto":
            from qgjob.agent.discovery import discover

            return discover()
        return list(parse_devices(spec))
    except InvalidValue as bad:
        raise typer.BadParameter(str(bad), param_hint="'--devices'") from None


def simulator(install_seconds: float, test_seconds: float, fail_rate: float,
              execution_log: Path | None = None,
              install_fail_rate: float = 0.0) -> Executor:
    from qgjob.agent.executors.registry import ExecutorOptions, build_executor

    return build_executor("simulate", ExecutorOptions(
        install_seconds=install_seconds, test_seconds=test_seconds, fail_rate=fail_rate,
        execution_log=execution_log, install_fail_rate=install_fail_rate))


def open_database(settings: ServerSettings) -> Store:
    """Open and migrate the database, so a bad --db is one clear error."""
    from qgjob.store import BadDatabaseUrl, open_store
    from qgjob.store.base import StoreUnavailable

    try:
        return open_store(settings.resolved_database_url)
    except StoreUnavailable as down:
        raise CliError(EXIT_SERVER, f"database: {down}") from None
    except (BadDatabaseUrl, ValueError, OSError) as bad:
        raise CliError(EXIT_USAGE, f"database: {bad}") from None
    except Exception as bad:  # sqlite3.DatabaseError: not a database, locked, …
        raise CliError(EXIT_USAGE, f"database: {type(bad).__name__}: {bad}") from None


def secure_settings(settings: ServerSettings, host: str, insecure: bool) -> ServerSettings:
    """Secure by default: with no API tokens the server listens on loopback only. Beyond
    loopback it needs tokens (or --insecure), and it stays closed if they are all revoked."""
    from dataclasses import replace

    from qgjob.auth.network import is_loopback

    store = open_database(settings)
    try:
        active_tokens = store.count_active_tokens()
    finally:
        store.close()
    if is_loopback(host):
        return settings
    if insecure:
        typer.echo(f"qgjob: warning: --insecure: listening on {host} "
                   f"{'with' if active_tokens else 'without'} API tokens", err=True)
        return settings
    if not active_tokens:
        raise CliError(EXIT_USAGE, f"refusing to listen on {host} with no API tokens (anyone "
                                   "on the network could use the API): create one with `qgjob "
                                   "token create --role admin`, or pass --insecure")
    return replace(settings, open_without_tokens=False)


@app.command()
def migrate(db: DbOption = None) -> int:
    """Bring the database's schema up to date and print its version. Servers do this
    themselves when they start (replicas wait for each other); run it ahead of a rolling
    upgrade to see it done first."""
    from qgjob.store import redacted

    settings = server_settings(db)
    store = open_database(settings)
    try:
        version = store.schema_version()
    finally:
        store.close()
    typer.echo(f"{redacted(settings.resolved_database_url)}: schema version {version}")
    return 0


@app.command()
def server(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    db: DbOption = None,
    group_by_org: GroupByOrgOption = None,
    preemption: PreemptionOption = None,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request.")] = False,
    log_level: LogLevelOption = "info",
    insecure: InsecureOption = False,
) -> int:
    """Run the job server. With no API tokens it listens on loopback only (see `qgjob token`)."""
    from qgjob.processes import configure_logging, run_server
    from qgjob.store import redacted

    _check_host(host)
    settings = secure_settings(server_settings(db, group_by_org, preemption), host, insecure)
    sock = _listen(host, port)
    configure_logging(log_level)
    typer.echo(f"qgjob server on {server_url(host, sock.getsockname()[1])} "
               f"(database {redacted(settings.resolved_database_url)})", err=True)
    run_server(settings, sock, access_log)
    return 0


@app.command()
def up(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    db: DbOption = None,
    devices: Annotated[str, typer.Option("--devices", help="Simulated devices.")]
    = DEFAULT_UP_DEVICES,
    group_by_org: GroupByOrgOption = None,
    preemption: PreemptionOption = None,
    install_seconds: InstallOption = 2.0,
    test_seconds: TestOption = 3.0,
    fail_rate: FailOption = 0.0,
    log_level: LogLevelOption = "info",
    insecure: InsecureOption = False,
) -> int:
    """Everything on one machine: the server, an embedded SQLite database and a local agent
    with simulated devices. Ctrl-C stops it; queued jobs stay in the database."""
    from dataclasses import replace

    from qgjob.domain.values import TARGETS
    from qgjob.processes import configure_logging, run_up
    from qgjob.store import redacted

    specs = devices_option(devices)
    _check_host(host)
    settings = secure_settings(server_settings(db, group_by_org, preemption), host, insecure)
    # The simulated devices install in `install_seconds`: the scheduler assumes so until it
    # has measured an install (QGJOB_INSTALL_SECONDS still wins where it names a target).
    if install_seconds > 0:
        settings = replace(settings, install_seconds={
            **dict.fromkeys(TARGETS, install_seconds), **settings.install_seconds})
    sock = _listen(host, port)
    configure_logging(log_level)
    url = server_url(host, sock.getsockname()[1])
    hint = "" if url == DEFAULT_SERVER.replace("localhost", "127.0.0.1") else \
        f" (export QGJOB_SERVER={url})"
    typer.echo(
        f"qgjob up: server {url}{hint}\n"
        f"  database  {redacted(settings.resolved_database_url)}\n"
        f"  devices   {devices} (simulated: install {install_seconds:g}s, "
        f"test {test_seconds:g}s, fail rate {fail_rate:g})\n"
        "  Ctrl-C to stop", err=True)
    run = run_up(settings, sock, specs, simulator(install_seconds, test_seconds, fail_rate))
    import asyncio

    asyncio.run(run)
    return 0
