"""The executor interface. An executor installs an app build on a device and runs one test;
it never decides retries or states (the server does)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from qgjob.domain.attempts import Outcome
from qgjob.domain.models import AttemptFile, CaseResult


@dataclass(frozen=True)
class JobTicket:
    """What an agent knows of a job it was handed."""

    job_id: str
    org_id: str
    app_version_id: str
    test_path: str
    target: str
    priority: int


@dataclass(frozen=True)
class Evidence:
    """A file a failed test left (screenshot, video, trace…), waiting on the agent's disk to
    be uploaded."""

    name: str
    """A plain file name, unique within the attempt; its extension says its type."""
    path: Path
    test: str | None = None


@dataclass(frozen=True)
class RunResult:
    outcome: Outcome
    error: str | None = None
    cases: tuple[CaseResult, ...] = ()
    """Per-test results, when the runner reports them (AppWright's JSON report)."""
    files: tuple[AttemptFile, ...] = ()
    """Report files to keep with the attempt."""
    evidence: tuple[Evidence, ...] = ()
    """Failed tests' attachments, in the order to keep them should the server's cap bite."""
    scratch: Path | None = None
    """A folder holding the evidence, removed once it is uploaded."""


class Output(Protocol):
    """Where an executor writes what the install or the test prints; it reaches the server
    (and `qgjob logs`) while the test runs."""

    def write(self, text: str) -> None: ...


class InstallFailed(Exception):
    """The app could not be installed on the device."""


class Executor(Protocol):
    name: str

    async def install(self, app_version_id: str, target: str, device: str,
                      output: Output) -> None:
        """Install the app build on the device; raise InstallFailed if it cannot."""
        ...

    async def run(self, job: JobTicket, device: str, cancelled: asyncio.Event,
                  output: Output) -> RunResult:
        """Run one test. Must stop promptly (outcome CANCELLED) once `cancelled` is set."""
        ...
