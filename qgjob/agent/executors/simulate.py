"""A labelled simulation: sleeps instead of installing and testing, and fails at a given
rate. For demos (`qgjob up`), tests and benchmarks; it never touches a device."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from qgjob.agent.executors.base import InstallFailed, JobTicket, Output, RunResult
from qgjob.domain.attempts import Outcome


@dataclass
class SimulateExecutor:
    install_seconds: float = 2.0
    test_seconds: float = 3.0
    fail_rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    execution_log: Path | None = None
    """Append a line per simulated test that ran to the end (job id, device, start, end):
    fault tests count executions here, on the agent's side, not only in job states."""
    name: str = "simulate"
    install_fail_rate: float = 0.0
    """Share of simulated installs that fail: a sick device, for fleet-health tests."""

    def __post_init__(self) -> None:
        if self.install_seconds < 0 or self.test_seconds < 0:
            raise ValueError("simulated durations must not be negative")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError("--fail-rate must be between 0 and 1")
        if not 0.0 <= self.install_fail_rate <= 1.0:
            raise ValueError("--install-fail-rate must be between 0 and 1")

    async def install(self, app_version_id: str, target: str, device: str,
                      output: Output) -> None:
        output.write(f"[simulation] installing {app_version_id} on {device} "
                     f"({self.install_seconds:g}s)\n")
        await asyncio.sleep(self.install_seconds)
        if self.install_fail_rate and self.rng.random() < self.install_fail_rate:
            raise InstallFailed(f"simulated install failure (--install-fail-rate "
                                f"{self.install_fail_rate:g})")

    async def run(self, job: JobTicket, device: str, cancelled: asyncio.Event,
                  output: Output) -> RunResult:
        started = time.time()
        output.write(f"[simulation] running {job.test_path} on {device} "
                     f"({self.test_seconds:g}s)\n")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(cancelled.wait(), self.test_seconds)
            output.write("[simulation] stopped\n")
            return RunResult(Outcome.CANCELLED, "stopped on cancel (simulated)")
        if self.execution_log is not None:
            with self.execution_log.open("a") as ledger:
                ledger.write(f"{job.job_id}\t{device}\t{started:.3f}\t{time.time():.3f}\n")
        if self.rng.random() < self.fail_rate:
            output.write("[simulation] failed\n")
            return RunResult(
                Outcome.FAILED, f"simulated failure (--fail-rate {self.fail_rate:g})"
            )
        output.write("[simulation] passed\n")
        return RunResult(Outcome.PASSED)
