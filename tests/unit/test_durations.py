import pytest

from qgjob.scheduler.durations import (
    DEFAULT_SECONDS,
    DurationModel,
    DurationStats,
    TargetPrior,
    learn,
    unseen_reprice,
)


def test_unknown_tests_use_the_target_prior_then_the_default() -> None:
    model = DurationModel()
    assert model.estimate(("acme", "tests/a.spec.js", "emulator")) == DEFAULT_SECONDS
    model.observe(("acme", "tests/a.spec.js", "emulator"), 30.0)
    model.observe(("acme", "tests/b.spec.js", "emulator"), 50.0)
    assert model.estimate(("acme", "tests/new.spec.js", "emulator")) == pytest.approx(40.0)
    assert model.estimate(("acme", "tests/new.spec.js", "device")) == DEFAULT_SECONDS


def test_a_test_new_to_a_target_is_priced_with_its_time_on_the_orgs_other_targets() -> None:
    model = DurationModel()
    model.observe(("acme", "tests/slow.spec.js", "emulator"), 120.0)
    model.observe(("acme", "tests/fast.spec.js", "emulator"), 10.0)
    model.observe(("acme", "tests/fast.spec.js", "device"), 20.0)
    assert model.estimate(("acme", "tests/slow.spec.js", "device")) == pytest.approx(120.0)
    assert model.estimate(("acme", "tests/fast.spec.js", "browserstack")) == pytest.approx(15.0)
    assert model.estimate(("acme", "tests/fast.spec.js", "device")) == pytest.approx(20.0)
    # another org's test of that path is another test: the target's prior prices it
    assert model.estimate(("globex", "tests/slow.spec.js", "device")) == pytest.approx(20.0)


def test_durations_are_learned_per_org() -> None:
    """Two orgs' tests of the same path are different tests."""
    model = DurationModel()
    model.observe(("acme", "tests/login.spec.js", "emulator"), 10.0)
    model.observe(("globex", "tests/login.spec.js", "emulator"), 90.0)
    assert model.estimate(("acme", "tests/login.spec.js", "emulator")) == pytest.approx(10.0)
    assert model.estimate(("globex", "tests/login.spec.js", "emulator")) == pytest.approx(90.0)


@pytest.mark.parametrize(
    ("stats", "seconds", "mean", "reprice"),
    [
        (None, 42.0, 42.0, 42.0),  # first sample: its queued jobs were priced with a guess
        (DurationStats(1, 40.0, 40.0), 44.0, 42.0, None),  # small move: no re-pricing
        (DurationStats(5, 40.0, 40.0), 100.0, 58.0, 58.0),  # moved by more than 25%
        (DurationStats(9, 40.0, 40.0), 40.0, 40.0, None),
    ],
)
def test_learn(stats: DurationStats | None, seconds: float, mean: float,
               reprice: float | None) -> None:
    new, prior, again = learn(stats, TargetPrior(3, 120.0), seconds)
    assert new.mean_seconds == pytest.approx(mean)
    assert (again is None) == (reprice is None)
    if reprice is not None:
        assert again == pytest.approx(reprice) and new.priced_seconds == pytest.approx(reprice)
    assert prior.samples == 4


@pytest.mark.parametrize(
    ("prior", "raised"),
    [
        (TargetPrior(), None),  # nothing learned: the default stands
        (TargetPrior(2, 80.0), None),  # below the default: unseen tests are not lowered
        (TargetPrior(2, 2 * 74.0), None),  # within a quarter of the default
        (TargetPrior(2, 2 * 80.0), 80.0),  # a quarter above it: raised
        (TargetPrior(4, 4 * 110.0, priced_seconds=100.0), None),  # within a quarter of 100 s
        (TargetPrior(4, 4 * 130.0, priced_seconds=100.0), 130.0),
    ],
)
def test_unseen_reprice(prior: TargetPrior, raised: float | None) -> None:
    after, seconds = unseen_reprice(prior)
    assert seconds == (None if raised is None else pytest.approx(raised))
    assert after.priced_seconds == pytest.approx(raised or prior.priced_seconds)
    assert (after.samples, after.total_seconds) == (prior.samples, prior.total_seconds)


def test_learning_keeps_what_unseen_tests_were_raised_to() -> None:
    _, prior, _ = learn(None, TargetPrior(3, 360.0, priced_seconds=120.0), 100.0)
    assert prior.priced_seconds == 120.0 and prior.samples == 4
