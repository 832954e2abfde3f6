"""Policies by name, for `qgjob simulate --policy` and the benchmarks."""

from __future__ import annotations

from qgjob.scheduler.baselines import FifoAffinityPolicy, FifoPolicy, WholeGroupPolicy
from qgjob.scheduler.policy import FairAffinityPolicy, Policy

POLICY_NAMES = ("qgjob", "fifo", "fifo-affinity", "whole-group")


def policy_named(name: str) -> Policy:
    policies: dict[str, Policy] = {
        "qgjob": FairAffinityPolicy(),
        "fifo": FifoPolicy(),
        "fifo-affinity": FifoAffinityPolicy(),
        "whole-group": WholeGroupPolicy(),
    }
    if name not in policies:
        raise ValueError(f"unknown policy {name!r}; choose one of: {', '.join(POLICY_NAMES)}")
    return policies[name]
