"""`qgjob queue --watch`: the queue view kept up to date until Ctrl-C, as a Rich live display
on a terminal, or one JSON line per refresh with --json."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Group, RenderableType
from rich.live import Live
from rich.text import Text

from qgjob.cli import render
from qgjob.cli.errors import EXIT_OK
from qgjob.cli.http import ApiClient

View = Callable[[dict[str, Any]], RenderableType]


def watch_queue(client: ApiClient, view: View, as_json: bool, interval: float) -> int:
    """Refresh every `interval` seconds; Ctrl-C ends it with exit 0. An unreachable server
    ends it like any command (exit 4, one line)."""
    try:
        if as_json:
            _print_lines(client, interval)
        else:
            _show_live(client, view, interval)
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _print_lines(client: ApiClient, interval: float) -> None:
    while True:
        render.json_lines([client.get("/queue")])
        time.sleep(interval)


def _show_live(client: ApiClient, view: View, interval: float) -> None:
    def screen() -> RenderableType:
        summary = client.get("/queue")
        heading = Text(f"{client.server} · every {interval:g}s · "
                       f"{time.strftime('%H:%M:%S')} · Ctrl-C to stop", style="dim")
        return Group(heading, view(summary))

    with Live(screen(), console=render.stdout, auto_refresh=False) as live:
        while True:
            time.sleep(interval)
            live.update(screen(), refresh=True)
