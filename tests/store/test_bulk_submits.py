"""A batch of submits counts its jobs into lanes and groups once per lane, not once per row:
the result must be exactly what submitting the same jobs one at a time gives, whatever the mix
of orgs, builds, targets, priorities and submit times in the batch; idempotency keys repeated
inside one batch name one job."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from qgjob.store import open_store
from qgjob.store.base import Conflict, JobFilter, Store
from tests.factories import T0, new_job
from tests.postgres import fresh_schema
from tests.store.conftest import BACKENDS
from tests.store.helpers import RULES


def mixed_jobs(count: int, seed: int) -> list:
    rng = random.Random(seed)
    return [new_job(org_id=f"org{rng.randint(0, 2)}", app_version_id=f"v{rng.randint(0, 3)}",
                    target=rng.choice(["emulator", "device"]),
                    test_path=f"tests/t{rng.randint(0, 9)}.spec.js",
                    priority=rng.randint(1, 5), at=T0 + rng.uniform(0, 100),
                    per_org=rng.random() < 0.5, job_id=f"mix{seed}-{i:04d}")
            for i in range(count)]


def queue_state(store: Store) -> tuple:
    lanes = sorted((lane.key, lane.target, lane.app_version_id, lane.queued_by_priority,
                    lane.head_submitted_at, lane.oldest_submitted_at,
                    round(lane.expected_seconds, 6))
                   for view in store.queue_views(T0 + 200, RULES) for lane in view.lanes)
    groups = sorted((g.group_key, g.counts.get("queued", 0), tuple(g.job_ids))
                    for g in store.groups(False, 1000))
    return lanes, groups


@contextmanager
def two_stores(backend: str, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    with ExitStack() as stack:
        if backend == "sqlite":
            urls = [str(tmp_path / "single.db"), str(tmp_path / "batched.db")]
        else:
            urls = [stack.enter_context(fresh_schema()) for _ in range(2)]
        stores = [open_store(url) for url in urls]
        for store in stores:
            stack.callback(store.close)
        yield stores[0], stores[1]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_counts_in_like_single_submits(tmp_path: Path, backend: str, seed: int) -> None:
    jobs = mixed_jobs(120, seed)
    with two_stores(backend, tmp_path) as (one_by_one, batched):
        for job in jobs:
            one_by_one.insert_jobs([job])
        cut = random.Random(seed).sample(range(1, len(jobs)), 4)
        bounds = [0, *sorted(cut), len(jobs)]
        for start, end in itertools.pairwise(bounds):
            batched.insert_jobs(jobs[start:end])
        assert queue_state(batched) == queue_state(one_by_one)


def test_a_key_repeated_in_one_batch_names_one_job(store: Store) -> None:
    first, again, other = store.insert_jobs([
        new_job(idempotency_key="ci-9-login", job_id="k1"),
        new_job(idempotency_key="ci-9-login", job_id="k2"),
        new_job(idempotency_key="ci-9-signup", job_id="k3", test_path="tests/signup.spec.js")])
    assert first.job_id == again.job_id == "k1"
    assert other.job_id == "k3"
    assert {j.job_id for j in store.list_jobs(JobFilter())} == {"k1", "k3"}
    [view] = store.queue_views(T0, RULES)
    assert sum(lane.queued for lane in view.lanes) == 2


def test_a_key_reused_for_another_test_in_one_batch_stores_nothing(store: Store) -> None:
    with pytest.raises(Conflict):
        store.insert_jobs([new_job(idempotency_key="ci-9", job_id="c1"),
                           new_job(idempotency_key="ci-9", job_id="c2",
                                   test_path="tests/other.spec.js")])
    assert store.list_jobs(JobFilter()) == []
    assert store.queue_views(T0, RULES) == []
