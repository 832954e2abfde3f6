"""Shared bits of the benchmarks: machine facts, percentiles, tables, JSON results."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"python": sys.version.split()[0], "platform": platform.platform(), "cpu": cpu,
            "cores": os.cpu_count()}


def git_revision() -> str:
    """The commit the figures were measured at, with `+changes` when tracked files outside
    benchmarks/results/ differ from it: figures from an uncommitted tree are not that
    commit's."""
    try:
        root = RESULTS.parent.parent
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True, cwd=root).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
             ":(exclude)benchmarks/results"], capture_output=True, text=True, check=True,
            cwd=root).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+changes" if changed else head


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type for a count: a whole number of at least `minimum`. A run of no
    claims, jobs or traces has nothing to time or judge: it would end in a traceback from an
    empty mean, or overwrite a tracked result with nothing; argparse turns the refusal into
    one line and exit 2."""
    def count(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value
    return count


seed_count = at_least(1)
"""A number of traces: a run of none would judge nothing and overwrite the tracked result."""


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(c.rjust(w) if index and i else c.ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if index == 0:
            print("  ".join("-" * w for w in widths))


def command_line(module: str) -> str:
    """How this run was started, as a shell takes it back: `python -m MODULE` and the
    arguments, each quoted where it needs to be (`--variant 'fleet x2'`)."""
    return " ".join(["python", "-m", module, *map(shlex.quote, sys.argv[1:])])


def write_result(name: str, payload: dict[str, Any], *, save: bool = True) -> Path:
    """Write `payload` as benchmarks/results/NAME.json, the tracked result; with `save=False`
    under the system's temporary directory instead, so a run leaves the checkout as it was."""
    folder = RESULTS if save else Path(tempfile.gettempdir()) / "qgjob-benchmarks"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.json"
    payload = {"benchmark": name, "revision": git_revision(), "machine": machine(),
               "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **payload}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
