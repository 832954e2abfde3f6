"""The goals' verdicts: a ratio at its limit meets it, whatever the last bits of its floats."""

from __future__ import annotations

from dataclasses import replace

from benchmarks.goals import goals
from qgjob.scheduler.registry import policy_named
from qgjob.sim.engine import Simulator
from qgjob.sim.generate import generate
from qgjob.sim.metrics import summarize
from qgjob.sim.trace import parse_trace


def test_two_schedules_ending_together_are_a_tie_not_a_miss() -> None:
    trace = parse_trace(generate("burst", seed=1))
    ours = summarize(trace, "qgjob", Simulator(trace, policy_named("qgjob")).run().events)
    # The same end, its times summed in another order (as two simulations may).
    affinity = replace(ours, makespan=ours.makespan * (1 - 4e-16))
    assert ours.makespan / affinity.makespan > 1.0
    verdicts = {c["goal"]: c["met"] for c in goals("burst", ours, ours, affinity)}
    assert verdicts["makespan / FIFO-affinity's"]
    later = replace(ours, makespan=ours.makespan + 0.001)
    verdicts = {c["goal"]: c["met"] for c in goals("burst", later, ours, ours)}
    assert not verdicts["makespan / FIFO-affinity's"]
