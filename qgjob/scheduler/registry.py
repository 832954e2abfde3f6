"""Policies by name, for `qgjob simulate --policy`, the server and the benchmarks."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from qgjob.scheduler.baselines import FifoAffinityPolicy, FifoPolicy, WholeGroupPolicy
from qgjob.scheduler.policy import FairAffinityPolicy
from qgjob.scheduler.protocol import Policy

POLICY_NAMES = ("qgjob", "fifo", "fifo-affinity", "whole-group")
KNOBS = tuple(f.name for f in fields(FairAffinityPolicy) if f.name != "name")
"""The qgjob policy's settings (`FairAffinityPolicy`'s fields)."""


def policy_named(name: str, **knobs: Any) -> Policy:
    """The policy called `name`; `knobs` set the qgjob policy's constants."""
    if name == "qgjob":
        unknown = sorted(set(knobs) - set(KNOBS))
        if unknown:
            raise ValueError(f"unknown policy setting(s): {', '.join(unknown)}; "
                             f"known: {', '.join(KNOBS)}")
        return FairAffinityPolicy(**knobs)
    baselines: dict[str, Policy] = {
        "fifo": FifoPolicy(), "fifo-affinity": FifoAffinityPolicy(),
        "whole-group": WholeGroupPolicy()}
    if name not in baselines:
        raise ValueError(f"unknown policy {name!r}; choose one of: {', '.join(POLICY_NAMES)}")
    if knobs:
        raise ValueError(f"settings ({', '.join(sorted(knobs))}) apply to the qgjob policy "
                         "only")
    return baselines[name]
