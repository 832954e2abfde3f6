"""Is a failure worth retrying? A retry buys something when the failure may not happen again
(a flaky test, a sick device). When the same test already failed the same way on the same
app build on another device, the next try will fail too: it only costs device time. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

SIGNATURE_CHARS = 500
# Numbers (timings, ports, ids), hex addresses and whitespace differ between two runs of one
# failure; quoting and case do not matter either.
_HEX = re.compile(r"0x[0-9a-f]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_SPACE = re.compile(r"\s+")


class RepeatRule(StrEnum):
    ANY_DEVICE = "any-device"
    """A repeat counts on any device: a retry often lands on the device that just failed."""
    OTHER_DEVICE = "other-device"
    """A repeat counts only on another device: the same device failing twice may be the
    device's fault."""
    NEVER = "never"
    """Retry every failure while attempts remain (qgjob before test health)."""


@dataclass(frozen=True)
class PriorFailure:
    job_id: str
    attempt: int
    device_id: str
    error: str | None


@dataclass(frozen=True)
class FailureEvidence:
    """What the store knows of a test on one build when one of its attempts fails."""

    failures: tuple[PriorFailure, ...] = ()
    """Earlier failed attempts of the test on this build, newest first."""
    passed_on_build: bool = False
    """It passed on this build before: this failure is flaky, not deterministic."""
    known_flaky: bool = False
    """Its flaky score is at or above the threshold."""


def error_signature(error: str | None) -> str:
    """What two reports of one failure share; '' when there is nothing to compare."""
    if not error:
        return ""
    text = _ANSI.sub("", error).lower()
    text = _NUMBER.sub("#", _HEX.sub("#", text))
    return _SPACE.sub(" ", text).strip()[:SIGNATURE_CHARS]


def repeated_failure(evidence: FailureEvidence, device_id: str | None, error: str | None,
                     rule: RepeatRule) -> str | None:
    """Why retrying this failure is pointless, or None when it may be worth it."""
    if rule is RepeatRule.NEVER or evidence.known_flaky or evidence.passed_on_build:
        return None
    signature = error_signature(error)
    if not signature:
        return None
    for prior in evidence.failures:
        other = prior.device_id != device_id
        if error_signature(prior.error) == signature and (
                other or rule is RepeatRule.ANY_DEVICE):
            where = f"on another device ({prior.device_id})" if other else "on the same device"
            return (f"not retried: the same failure happened {where} in attempt "
                    f"{prior.attempt} of job {prior.job_id}, on the same build")
    return None
