"""Running a test command as a child process: its own process group (so a timeout or a cancel
stops everything it started), its output streamed as it comes, never through a shell."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import re
import shlex
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from qgjob.agent.executors.base import JobTicket, Output

PLACEHOLDERS = ("app_version_id", "target", "test_path", "job_id", "org_id", "device")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HALF_PLACEHOLDER = re.compile(r"\{(%s)\b|\b(%s)\}" % (("|".join(PLACEHOLDERS),) * 2))
"""A placeholder's name with one of its braces (what is left once whole ones are taken out)."""
TAIL_LINES = 20
TAIL_CHARS = 8 * 1024


class TemplateError(ValueError):
    """An argv template that cannot be used; the message says why."""


def parse_template(template: str) -> list[str]:
    """Split like a shell would (quotes, escapes), but nothing will ever run in one."""
    try:
        words = shlex.split(template)
    except ValueError as problem:
        raise TemplateError(f"cannot split {template!r}: {problem}") from None
    if not words:
        raise TemplateError("the command is empty")
    for word in words:
        for name in _PLACEHOLDER.findall(word):
            if name not in PLACEHOLDERS:
                raise TemplateError(f"unknown placeholder {{{name}}} in {template!r}; known: "
                                    + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS))
        half = _HALF_PLACEHOLDER.search(_PLACEHOLDER.sub("", word))
        if half:
            # `{test_path` would run as written for every job, which then "passes"; other
            # braces (a JSON argument) are the command's own.
            raise TemplateError(f"{half.group(0)!r} in {template!r} is half a placeholder: "
                                "write {" + (half.group(1) or half.group(2)) + "}")
    return words


def fill(words: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """Each word with its placeholders replaced; a value never becomes more than one word."""
    return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], word) for word in words]


def job_values(job: JobTicket, device: str) -> dict[str, str]:
    return {"app_version_id": job.app_version_id, "target": job.target,
            "test_path": job.test_path, "job_id": job.job_id, "org_id": job.org_id,
            "device": device}


def job_environment(values: Mapping[str, str], extra: Mapping[str, str] | None = None
                    ) -> dict[str, str]:
    """The agent's environment plus QGJOB_APP_VERSION_ID, QGJOB_TARGET, QGJOB_TEST_PATH,
    QGJOB_JOB_ID, QGJOB_ORG_ID and QGJOB_DEVICE."""
    env = dict(os.environ)
    env.update({f"QGJOB_{key.upper()}": value for key, value in values.items()})
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Finished:
    exit_code: int | None
    """None when it was stopped (timeout or cancel)."""
    timed_out: bool
    cancelled: bool
    tail: str
    """The last lines of its output, for error messages."""
    missing: str | None = None
    """Set when the program could not be started (not found, not executable)."""


async def run_process(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path | None, output: Output,
    timeout: float, cancelled: asyncio.Event | None = None, kill_grace: float = 5.0,
) -> Finished:
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True)
    except OSError as problem:
        return Finished(None, False, False, "", missing=f"cannot run {argv[0]!r}: "
                                                        f"{problem.strerror or problem}")
    tail: list[str] = [""]
    reading = asyncio.create_task(_pump(process, output, tail))
    waiting = asyncio.create_task(process.wait())
    stop = asyncio.create_task(cancelled.wait()) if cancelled is not None else None
    try:
        done, _ = await asyncio.wait({waiting} | ({stop} if stop else set()), timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        # The task running it was cancelled (an interrupted install): its processes go too.
        for task in (reading, waiting, stop):
            if task is not None:
                task.cancel()
        await asyncio.shield(_stop_group(process, kill_grace))
        raise
    timed_out = not done
    was_cancelled = stop is not None and stop in done
    if timed_out or was_cancelled:
        await _stop_group(process, kill_grace)
    if stop is not None:
        stop.cancel()
    await waiting
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(reading, 5.0)
    code = None if timed_out or was_cancelled else process.returncode
    last_lines = "\n".join(tail[0].splitlines()[-TAIL_LINES:])
    return Finished(code, timed_out, was_cancelled, last_lines)


async def _pump(process: asyncio.subprocess.Process, output: Output, tail: list[str]) -> None:
    """Copy the child's output as it comes, in chunks (a line may be longer than any buffer);
    `tail[0]` keeps the last few kilobytes for error messages."""
    assert process.stdout is not None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while chunk := await process.stdout.read(64 * 1024):
        text = decoder.decode(chunk)
        output.write(text)
        tail[0] = (tail[0] + text)[-TAIL_CHARS:]
    rest = decoder.decode(b"", final=True)
    output.write(rest)
    tail[0] += rest


async def _stop_group(process: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM to the whole process group, SIGKILL after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            await asyncio.wait_for(process.wait(), wait)
            break
        except TimeoutError:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # children that outlived their parent


def shell_quote(argv: Sequence[str]) -> str:
    """For logs only."""
    return " ".join(shlex.quote(word) for word in argv)
