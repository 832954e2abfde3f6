"""The Typer app and its global options. Commands live in sibling modules; heavy imports
(httpx, the server) happen inside commands so `qgjob --help` starts fast."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
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


@dataclass
class Globals:
    server: str
    token: str | None
    context: typer.Context

    def client(self) -> ApiClient:
        """An API client, closed when the command ends."""
        from qgjob.cli.http import ApiClient

        client = ApiClient(self.server, self.token)
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
    from qgjob.servers import BadServerList, parse_servers

    try:
        parse_servers(server)
    except BadServerList as bad:
        raise typer.BadParameter(str(bad), param_hint="'--server'") from None
    ctx.obj = Globals(server=server, token=token or None, context=ctx)


def globals_of(ctx: typer.Context) -> Globals:
    found = ctx.find_object(Globals)
    assert found is not None
    return found
