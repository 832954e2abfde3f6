"""The `command` executor: an install command once per app build on a device, and a run
command per job, both argv templates; exit code 0 means the test passed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from qgjob.agent.executors.base import InstallFailed, JobTicket, Output, RunResult
from qgjob.agent.executors.process import (
    fill,
    job_environment,
    job_values,
    parse_template,
    run_process,
    shell_quote,
)
from qgjob.domain.attempts import Outcome

DEFAULT_TIMEOUT_SECONDS = 15 * 60


@dataclass
class CommandExecutor:
    run_cmd: str
    install_cmd: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    workdir: Path | None = None
    kill_grace_seconds: float = 5.0
    name: str = "command"
    _run_words: list[str] = field(init=False, repr=False)
    _install_words: list[str] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Templates are checked when the agent starts, not at the first job."""
        self._run_words = parse_template(self.run_cmd)
        self._install_words = parse_template(self.install_cmd) if self.install_cmd else None
        if self.timeout_seconds <= 0:
            raise ValueError("the timeout must be positive")

    async def install(self, app_version_id: str, target: str, device: str,
                      output: Output) -> None:
        if self._install_words is None:
            return
        values = {"app_version_id": app_version_id, "target": target, "test_path": "",
                  "job_id": "", "org_id": "", "device": device}
        argv = fill(self._install_words, values)
        output.write(f"$ {shell_quote(argv)}\n")
        finished = await run_process(argv, env=job_environment(values), cwd=self.workdir,
                                     output=output, timeout=self.timeout_seconds,
                                     kill_grace=self.kill_grace_seconds)
        if finished.missing:
            raise InstallFailed(finished.missing)
        if finished.timed_out:
            raise InstallFailed(f"timed out after {self.timeout_seconds:g}s")
        if finished.exit_code != 0:
            raise InstallFailed(f"{argv[0]} exited with {finished.exit_code}: "
                                f"{finished.tail.strip()[-2000:]}")

    async def run(self, job: JobTicket, device: str, cancelled: asyncio.Event,
                  output: Output) -> RunResult:
        values = job_values(job, device)
        argv = fill(self._run_words, values)
        output.write(f"$ {shell_quote(argv)}\n")
        finished = await run_process(argv, env=job_environment(values), cwd=self.workdir,
                                     output=output, timeout=self.timeout_seconds,
                                     cancelled=cancelled, kill_grace=self.kill_grace_seconds)
        if finished.missing:
            return RunResult(Outcome.ERROR, finished.missing)
        if finished.cancelled:
            return RunResult(Outcome.CANCELLED, "stopped on cancel")
        if finished.timed_out:
            return RunResult(Outcome.FAILED, f"timed out after {self.timeout_seconds:g}s; "
                                             "its process group was killed")
        if finished.exit_code == 0:
            return RunResult(Outcome.PASSED)
        return RunResult(Outcome.FAILED, f"{argv[0]} exited with {finished.exit_code}\n"
                                         f"{finished.tail.strip()[-4000:]}")
