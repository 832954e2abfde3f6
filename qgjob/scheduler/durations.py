"""Expected test durations, learned from finished attempts per (org, test_path, target): two
orgs' `tests/login.spec.js` are different tests.

An exponentially weighted mean per test, and a prior per target (the mean of everything seen
there) for tests never seen before. Queued jobs are priced with the estimate at submit time;
when a test's estimate later moves by more than `REPRICE_RATIO`, the owner of the jobs (store
or simulator) re-prices that test's queued jobs, so the expected work of a lane stays honest
without being recomputed on every claim.

`learn` is the one rule; the store applies it to rows inside a transaction, and
`DurationModel` applies it to dictionaries for the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

    def mean(self, default: float = DEFAULT_SECONDS) -> float:
        return self.total_seconds / self.samples if self.samples else default


def learn(
    stats: DurationStats | None, prior: TargetPrior, seconds: float
) -> tuple[DurationStats, TargetPrior, float | None]:
    """Fold one finished attempt in. Returns the test's new stats, the target's new prior, and
    the estimate to re-price the test's queued jobs with (None if they are close enough)."""
    seconds = max(seconds, 0.0)
    new_prior = TargetPrior(prior.samples + 1, prior.total_seconds + seconds)
    if stats is None:
        # Its queued jobs were priced with whatever the prior was when they were submitted.
        return DurationStats(1, seconds, priced_seconds=seconds), new_prior, seconds
    samples = stats.samples + 1
    weight = max(SMOOTHING, 1.0 / samples)
    mean = stats.mean_seconds + weight * (seconds - stats.mean_seconds)
    if _moved(stats.priced_seconds, mean):
        return DurationStats(samples, mean, priced_seconds=mean), new_prior, mean
    return DurationStats(samples, mean, stats.priced_seconds), new_prior, None


def _moved(old: float, new: float) -> bool:
    return abs(new - old) > REPRICE_RATIO * max(old, 1e-9)


@dataclass
class DurationModel:
    """`learn` over in-memory dictionaries (the simulator's duration history)."""

    tests: dict[DurationKey, DurationStats] = field(default_factory=dict)
    priors: dict[str, TargetPrior] = field(default_factory=dict)

    def estimate(self, key: DurationKey) -> float:
        stats = self.tests.get(key)
        if stats is not None:
            return stats.mean_seconds
        return self.priors.get(key[2], TargetPrior()).mean()

    def observe(self, key: DurationKey, seconds: float) -> float | None:
        target = key[2]
        stats, prior, reprice = learn(
            self.tests.get(key), self.priors.get(target, TargetPrior()), seconds
        )
        self.tests[key] = stats
        self.priors[target] = prior
        return reprice
