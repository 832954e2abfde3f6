"""Expected test durations, learned from finished attempts per (org, test_path, target): two
orgs' `tests/login.spec.js` are different tests.

An exponentially weighted mean per test; a test never run on a target is priced with its mean
on the org's other targets (the same file drives the same flows of the app, so one test's
time elsewhere says more than the average test's here), and a test never run anywhere with its
target's prior (the mean of everything seen there). Queued jobs are priced with the estimate at
submit time; when a test's estimate later moves by more than `REPRICE_RATIO`, or the test
finishes on a target for the first time (its jobs queued for targets it never ran on are priced
with its time elsewhere), the owner of the jobs (store or simulator) re-prices that test's
queued jobs, so the expected work of a lane stays honest without being recomputed on every
claim.

`learn` and `price` are the rules; the SQL stores apply them to rows inside a transaction, and
`DurationModel` to dictionaries: the simulator's queue (`claiming/memory.py`) keeps its
durations in one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

DEFAULT_SECONDS = 60.0
SMOOTHING = 0.3
REPRICE_RATIO = 0.25

DurationKey = tuple[str, str, str]  # (org_id, test_path, target)


@dataclass(frozen=True)
class DurationStats:
    samples: int
    mean_seconds: float
    priced_seconds: float
    """The estimate queued jobs of this test were last priced with."""


@dataclass(frozen=True)
class TargetPrior:
    samples: int = 0
    total_seconds: float = 0.0
    priced_seconds: float = DEFAULT_SECONDS
    """What queued jobs of tests never run were last raised to (`unseen_reprice`): at first the
    default, which every job submitted before anything ran on the target is priced with."""

    def mean(self, default: float = DEFAULT_SECONDS) -> float:
        return self.total_seconds / self.samples if self.samples else default


def learn(
    stats: DurationStats | None, prior: TargetPrior, seconds: float
) -> tuple[DurationStats, TargetPrior, float | None]:
    """Fold one finished attempt in. Returns the test's new stats, the target's new prior, and
    the estimate to re-price the test's queued jobs with (None if they are close enough)."""
    seconds = max(seconds, 0.0)
    new_prior = replace(prior, samples=prior.samples + 1,
                        total_seconds=prior.total_seconds + seconds)
    if stats is None:
        # Its queued jobs were priced with whatever the prior was when they were submitted.
        return DurationStats(1, seconds, priced_seconds=seconds), new_prior, seconds
    samples = stats.samples + 1
    weight = max(SMOOTHING, 1.0 / samples)
    mean = stats.mean_seconds + weight * (seconds - stats.mean_seconds)
    if _moved(stats.priced_seconds, mean):
        return DurationStats(samples, mean, priced_seconds=mean), new_prior, mean
    return DurationStats(samples, mean, stats.priced_seconds), new_prior, None


def unseen_reprice(prior: TargetPrior) -> tuple[TargetPrior, float | None]:
    """When the target's prior has risen by more than `REPRICE_RATIO` above what tests never
    run there were last priced with, the prior to raise their queued jobs to (and the prior
    that remembers it); else None.

    Such a job was priced with the prior of its submit: the default before anything ran on the
    target, whatever the fleet's tests take. Where tests run minutes, a burst's unseen tests
    would stay at the default, look like the shortest, run last, and end their builds on a long
    test begun late. Only upward: an unseen test is the least known of a build's tests, and
    priced above its peers it runs early, where a long surprise costs least."""
    mean = prior.mean()
    if prior.samples and mean > prior.priced_seconds * (1.0 + REPRICE_RATIO):
        return replace(prior, priced_seconds=mean), mean
    return prior, None


def price(known: float | None, elsewhere: Sequence[float], prior: float) -> float:
    """What a queued job of a test is priced with: its mean on its target (`known`), else the
    mean of its means on the org's other targets, else the target's prior."""
    if known is not None:
        return known
    if elsewhere:
        return sum(elsewhere) / len(elsewhere)
    return prior


def _moved(old: float, new: float) -> bool:
    return abs(new - old) > REPRICE_RATIO * max(old, 1e-9)


@dataclass
class DurationModel:
    """`learn` and `price` over in-memory dictionaries."""

    tests: dict[DurationKey, DurationStats] = field(default_factory=dict)
    priors: dict[str, TargetPrior] = field(default_factory=dict)

    def estimate(self, key: DurationKey) -> float:
        stats = self.tests.get(key)
        known = stats.mean_seconds if stats is not None else None
        elsewhere = self.elsewhere(key) if known is None else []
        return price(known, elsewhere, self.prior(key[2]).mean())

    def elsewhere(self, key: DurationKey) -> list[float]:
        """The test's means on the org's other targets, in the order of their names."""
        org_id, test_path, target = key
        return [self.tests[(org_id, test_path, other)].mean_seconds
                for other in sorted(self.priors)
                if other != target and (org_id, test_path, other) in self.tests]

    def prior(self, target: str) -> TargetPrior:
        return self.priors.get(target, TargetPrior())

    def save(self, key: DurationKey, stats: DurationStats, prior: TargetPrior) -> None:
        self.tests[key] = stats
        self.priors[key[2]] = prior

    def seen(self, org_id: str, test_path: str) -> bool:
        """Whether the org's test has finished on any target."""
        return any((org_id, test_path, target) in self.tests for target in self.priors)

    def observe(self, key: DurationKey, seconds: float) -> float | None:
        stats, prior, reprice = learn(self.tests.get(key), self.prior(key[2]), seconds)
        self.save(key, stats, prior)
        return reprice
