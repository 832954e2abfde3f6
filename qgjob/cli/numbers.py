"""Number options: finite, in range, and said so in one line when not.

Typer turns `float` options into Click's float, which takes `nan` and `inf` (`--test-seconds
inf` started `qgjob up` with agents that would sleep forever) and, with `min`/`max`, words a
`nan` as "Input should be less than or equal to 60". Every float option of the CLI parses
with `number()` instead."""

from __future__ import annotations

import math
from collections.abc import Callable

import typer


def number(low: float | None = None, high: float | None = None) -> Callable[[str], float]:
    """A parser for a float option: a finite number, at least `low` and at most `high`."""

    def parse(raw: str | float) -> float:  # a float when Typer passes a default through
        try:
            value = float(raw)
        except ValueError:
            raise typer.BadParameter(f"{raw!r} is not a number") from None
        if not math.isfinite(value):
            raise typer.BadParameter(f"{raw} is not a finite number")
        if low is not None and value < low:
            raise typer.BadParameter(f"{raw} is below {low:g}, the least it may be")
        if high is not None and value > high:
            raise typer.BadParameter(f"{raw} is above {high:g}, the most it may be")
        return value

    return parse
