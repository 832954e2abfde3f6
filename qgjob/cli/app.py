"""The Typer app and its global options. Commands live in sibling modules; heavy imports
(httpx, the server) happen inside commands so `qgjob --help` starts fast."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from qgjob.cli.errors import EXIT_USAGE, CliError

if TYPE_CHECKING:
    # Typer's own copy of click (recent Typer carries one); only its types are named here.
    from typer._click import Command, Parameter

    from qgjob.cli.http import ApiClient

DEFAULT_SERVER = "http://localhost:8000"

app = typer.Typer(
    name="qgjob",
    help="Queue, group and run AppWright tests on emulators, devices and BrowserStack.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


_TOKEN_TEXT = re.compile(r"[\x21-\x7e]+")
"""What a token can hold: visible ASCII. Tokens are `qgj_<id>_<base64url>`; anything else
(a newline, a carriage return from a Windows file, a space, non-ASCII) cannot be one, and
could not even be sent in an HTTP header."""


@dataclass
class Globals:
    server: str
    token: str | None
    context: typer.Context
    token_from: str = "--token"
    """Where the token came from, to name it (never to print it) when it is refused."""

    def checked_token(self) -> str | None:
        """The token, or exit 2 if no token could look like it: the message names where it
        came from and never echoes it (it is a secret, possibly half a secret)."""
        if self.token is not None and not _TOKEN_TEXT.fullmatch(self.token):
            raise CliError(EXIT_USAGE, f"the API token from {self.token_from} contains "
                                       "characters a token cannot have (control characters "
                                       "such as a newline, spaces or non-ASCII)")
        return self.token

    def client(self) -> ApiClient:
        """An API client, closed when the command ends."""
        from qgjob.cli.http import ApiClient

        client = ApiClient(self.server, self.checked_token())
        self.context.call_on_close(client.close)
        return client


def _print_version(asked: bool) -> None:
    if asked:
        from qgjob import __version__

        print(f"qgjob {__version__}")
        raise typer.Exit()


@app.callback()
def _globals(
    ctx: typer.Context,
    server: Annotated[str, typer.Option(
        envvar="QGJOB_SERVER",
        help="The qgjob server's URL; several replicas' URLs separated by commas are tried "
             "in order.")] = DEFAULT_SERVER,
    token: Annotated[str | None, typer.Option(envvar="QGJOB_TOKEN", help="API token.",
                                              show_default=False)] = None,
    version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version,
        help="Print qgjob's version and exit.")] = False,
) -> None:
    # By name: Typer may carry its own copy of click, and with it its own ParameterSource.
    from_env = getattr(ctx.get_parameter_source("token"), "name", None) == "ENVIRONMENT"
    ctx.obj = Globals(server=_checked_server(server), token=token or None, context=ctx,
                      token_from="QGJOB_TOKEN" if from_env else "--token")


def _checked_server(server: str) -> str:
    from qgjob.servers import BadServerList, parse_servers

    try:
        parse_servers(server)
    except BadServerList as bad:
        raise typer.BadParameter(str(bad), param_hint="'--server'") from None
    return server


def globals_of(ctx: typer.Context) -> Globals:
    found = ctx.find_object(Globals)
    assert found is not None
    return found


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the command line named this option, even at its default value."""
    # By name: Typer may carry its own copy of click, and with it its own ParameterSource.
    return getattr(ctx.get_parameter_source(name), "name", "DEFAULT") != "DEFAULT"


OFFLINE_COMMANDS = frozenset({"migrate", "server", "up", "simulate", "trace", "plan", "token"})
"""Commands that ask no qgjob server (they start one, or work on files or on the database):
`--server` or `--token` after them would be taken and ignored, so there they are refused."""


def _server_after_command(ctx: typer.Context, server: str | None) -> None:
    if server is not None:
        globals_of(ctx).server = _checked_server(server)


def _token_after_command(ctx: typer.Context, token: str | None) -> None:
    if token is not None:
        found = globals_of(ctx)
        found.token, found.token_from = token or None, "--token"


def _options_after_a_command(
    server: Annotated[str | None, typer.Option(
        expose_value=False, callback=_server_after_command, show_default=False,
        help="The qgjob server's URL (or several, comma-separated), here or before the "
             "command name; here wins. Env: QGJOB_SERVER.")] = None,
    token: Annotated[str | None, typer.Option(
        expose_value=False, callback=_token_after_command, show_default=False,
        help="API token, here or before the command name; here wins. Env: QGJOB_TOKEN.")
    ] = None,
) -> None:
    """Never run: Typer reads its parameters into the options `command_line` adds."""


def command_line() -> Command:
    """The `qgjob` command. `--server` and `--token` are options of `qgjob` itself, and also
    of every command that asks a server (`qgjob agent --server URL …`, as CONTRACT.md writes
    it): users put them either side of the command name. After the name they win; the
    environment stays the fallback of both."""
    root = typer.main.get_command(app)
    options = typer.Typer(add_completion=False)
    options.command()(_options_after_a_command)
    after = typer.main.get_command(options).params
    for name, command in getattr(root, "commands", {}).items():
        if name not in OFFLINE_COMMANDS:
            _add_options(command, after)
    return root


def _add_options(command: Command, options: list[Parameter]) -> None:
    command.params.extend(options)
    for sub in getattr(command, "commands", {}).values():
        _add_options(sub, options)
