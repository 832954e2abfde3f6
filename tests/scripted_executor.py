"""An executor whose results a test decides: a test file whose path holds "login" fails one
of its two tests; every other file passes its one test. Each reports per-test results as
the appwright executor does."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from qgjob.agent.executors.base import JobTicket, Output, RunResult
from qgjob.agent.executors.simulate import SimulateExecutor
from qgjob.domain.attempts import Outcome
from qgjob.domain.models import CaseResult


@dataclass
class ScriptedExecutor(SimulateExecutor):
    install_seconds: float = 0.0
    test_seconds: float = 0.02

    async def run(self, job: JobTicket, device: str, cancelled: asyncio.Event,
                  output: Output) -> RunResult:
        done = await super().run(job, device, cancelled, output)
        if done.outcome is not Outcome.PASSED:
            return done
        if "login" in job.test_path:
            return RunResult(Outcome.FAILED, "1 failed", cases=(
                CaseResult("opens the form", "passed", 0.5, None, job.test_path),
                CaseResult("logs in", "failed", 1.5, "expected 'Welcome' got ''",
                           job.test_path)))
        return RunResult(Outcome.PASSED, cases=(
            CaseResult("works", "passed", 0.25, None, job.test_path),))
