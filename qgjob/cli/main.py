"""Entry point: runs the Typer app without its own error printing, so every error is one
line on stderr with the contract's exit code, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from qgjob.cli import (  # noqa: F401  (registers the commands)
    agent,
    cluster,
    fleet,
    health,
    jobs,
    logs,
    plan,
    processes,
    run,
    runs,
    simulate,
    tokens,
)
from qgjob.cli.app import OFFLINE_COMMANDS, command_line
from qgjob.cli.errors import EXIT_SERVER, EXIT_USAGE, CliError
from qgjob.cli.safe_text import plain

# Recent Typer versions carry their own copy of click; take its exceptions, whichever it is.
click = sys.modules[typer.BadParameter.__module__]
_NoArgsIsHelp = getattr(click, "NoArgsIsHelpError", ())
_Abort = (typer.Abort, getattr(click, "Abort", typer.Abort))


def main(argv: Sequence[str] | None = None) -> None:
    command = command_line()
    try:
        result = command.main(
            args=list(argv) if argv is not None else None, prog_name="qgjob",
            standalone_mode=False,
        )
    except _NoArgsIsHelp as help_error:
        if help_error.ctx is not None:
            click.echo(help_error.ctx.get_help())
        sys.exit(0)
    except click.UsageError as usage:
        _fail(EXIT_USAGE, _usage_line(usage))
    except click.ClickException as problem:
        _fail(problem.exit_code, problem.format_message())
    except _Abort:
        _fail(130, "aborted")
    except CliError as error:
        _fail(error.code, error.message)
    except KeyboardInterrupt:
        _fail(130, "interrupted")
    except Exception as unexpected:  # a bug; still one line, never a traceback
        _fail(EXIT_SERVER, f"unexpected {type(unexpected).__name__}: {unexpected}")
    sys.exit(result if isinstance(result, int) else 0)


def _usage_line(usage: click.UsageError) -> str:  # type: ignore[name-defined]
    command = usage.ctx.command_path if usage.ctx is not None else "qgjob"
    # Typer checks enum options (`token create --role`) with pydantic, whose message for a
    # ValueError starts "Value error, ": a detail of pydantic, not of the user's mistake.
    message = usage.format_message().replace(": Value error, ", ": ", 1)
    words = command.split()
    name = words[1] if len(words) > 1 else None  # `qgjob token list`: token
    if (isinstance(usage, click.NoSuchOption) and usage.option_name in ("--server", "--token")
            and name in OFFLINE_COMMANDS):
        # click's suggestion ("Possible options: --seed") misleads: no option of it is meant.
        message = (f"No such option: {usage.option_name}: `{command}` asks no qgjob "
                   "server (it starts one, or works on files or the database)")
    return f"{message} (see `{command} --help`)"


def _fail(code: int, message: str) -> None:
    first_line = " ".join(plain(message).split())
    print(f"qgjob: error: {first_line}", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
