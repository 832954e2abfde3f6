"""The online and idle devices a claim's policy is shown, on every store: a server keeps them
a few seconds between claims, and they follow at once every change it makes to which devices
take work (devices coming online, going offline, drained, out of rotation, removed); another
replica's change shows within `DEVICE_COUNTS_MAX_AGE`."""

from __future__ import annotations

from dataclasses import dataclass

from qgjob.claiming.path import DEVICE_COUNTS_MAX_AGE
from qgjob.scheduler.views import ClaimContext, LaneChoice
from qgjob.store import open_store
from qgjob.store.base import Store
from qgjob.store.sql.device_counts import DeviceCounts
from tests.factories import T0, new_job
from tests.store.helpers import LEASE, RULES, OldestLanePolicy, register

OFFLINE = 30.0


@dataclass(frozen=True)
class Onlooker(OldestLanePolicy):
    """Takes no work: every claim only shows what the policy would see."""

    name: str = "onlooker"

    def choose_lane(self, ctx: ClaimContext) -> LaneChoice | None:
        return None


def seen(store: Store, agent_id: str, device: str, at: float) -> tuple[int, int]:
    """(online, idle) devices of the device's target, as its claim's policy sees them."""
    result = store.claim_batch(agent_id, device, None, at, LEASE, Onlooker(), RULES)
    assert result.batch is None and result.context is not None
    return result.context.target_devices, result.context.idle_devices


def emulators(count: int, first: int = 1) -> str:
    return ",".join(f"e{n}:emulator" for n in range(first, first + count))


def queued(store: Store) -> None:
    store.insert_jobs([new_job(at=T0)])


def lab_and_annex(store: Store) -> str:
    """Work queued, and 2 + 3 emulators on two agents; the lab's session id."""
    queued(store)
    lab = register(store, "lab", emulators(2), at=T0)
    register(store, "annex", emulators(3), at=T0)
    assert seen(store, lab, "e1", T0) == (5, 5)
    return lab


def test_devices_coming_online_count_at_once(store: Store) -> None:
    queued(store)
    lab = register(store, "lab", emulators(2) + ",d1:device", at=T0)
    assert seen(store, lab, "e1", T0) == (2, 2)
    register(store, "annex", emulators(3), at=T0 + 0.5)
    assert seen(store, lab, "e1", T0 + 0.5) == (5, 5)


def test_agents_going_offline_or_signing_off_leave_the_count(store: Store) -> None:
    queued(store)
    lab = register(store, "lab", emulators(2), at=T0)
    register(store, "annex", emulators(3), at=T0)
    register(store, "spare", emulators(1), at=T0)
    assert seen(store, lab, "e1", T0)[0] == 6
    later = T0 + OFFLINE + 1
    store.heartbeat(lab, [], later, LEASE)
    store.heartbeat(f"agent-spare-{T0}", [], later, LEASE)
    assert store.mark_agents_offline(T0 + OFFLINE, later) == [f"agent-annex-{T0}"]
    assert seen(store, lab, "e1", later)[0] == 3
    store.sign_off(f"agent-spare-{T0}")
    assert seen(store, lab, "e1", later)[0] == 2


def test_a_drained_agent_leaves_the_count_until_undrained(store: Store) -> None:
    lab = lab_and_annex(store)
    store.drain_agent("annex", T0 + 0.5)
    assert seen(store, lab, "e1", T0 + 0.5) == (2, 2)
    store.undrain_agent("annex")
    assert seen(store, lab, "e1", T0 + 1) == (5, 5)


def test_a_device_out_of_rotation_leaves_the_count_until_enabled(store: Store) -> None:
    queued(store)
    lab = register(store, "lab", emulators(3), at=T0)
    store.record_install(lab, "e2", "xyz123", "emulator", T0, T0 + 0.1, ok=True)
    assert seen(store, lab, "e1", T0 + 0.2) == (3, 3)
    reason = store.record_install(lab, "e2", "xyz123", "emulator", T0 + 0.3, T0 + 0.4,
                                  ok=False, failure_limit=1)
    assert reason is not None
    assert seen(store, lab, "e1", T0 + 0.5) == (2, 2)
    store.enable_device("lab/e2")
    assert seen(store, lab, "e1", T0 + 0.6) == (3, 3)


def test_removed_devices_leave_the_count(store: Store) -> None:
    lab = lab_and_annex(store)
    # The annex restarts with one emulator fewer: the other is gone.
    register(store, "annex", emulators(2), at=T0 + 0.5, agent_id="agent-annex-again")
    assert seen(store, lab, "e1", T0 + 0.5)[0] == 4
    later = T0 + OFFLINE + 1
    store.heartbeat(lab, [], later, LEASE)
    store.mark_agents_offline(T0 + OFFLINE, later)
    store.remove_agent("annex", later, OFFLINE)
    assert seen(store, lab, "e1", later)[0] == 2
    assert [a.name for a in store.list_agents()] == ["lab"]


def test_another_replicas_change_shows_within_the_freshness_window(
        store: Store, store_url: str) -> None:
    queued(store)
    lab = register(store, "lab", emulators(2), at=T0)
    other = open_store(store_url)  # a second server on the same database
    try:
        assert seen(other, lab, "e1", T0) == (2, 2)
        register(store, "annex", emulators(3), at=T0)
        assert seen(other, lab, "e1", T0 + DEVICE_COUNTS_MAX_AGE) == (5, 5)
        store.drain_agent("annex", T0 + DEVICE_COUNTS_MAX_AGE)
        assert seen(other, lab, "e1", T0 + 2 * DEVICE_COUNTS_MAX_AGE) == (2, 2)
    finally:
        other.close()



def test_a_count_is_kept_for_its_window_but_not_across_a_change() -> None:
    counts, calls = DeviceCounts(), list[int]()

    def count() -> tuple[int, int]:
        calls.append(len(calls) + 1)
        return calls[-1], 0

    def count_while_the_fleet_changes() -> tuple[int, int]:
        counts.forget()
        return count()

    assert counts.get("emulator", T0, 2.0, count) == (1, 0)
    assert counts.get("emulator", T0 + 1.9, 2.0, count) == (1, 0)
    assert counts.get("device", T0 + 1.9, 2.0, count) == (2, 0)  # each target its own
    assert counts.get("emulator", T0 + 2.0, 2.0, count) == (3, 0)
    assert counts.get("emulator", T0 + 0.5, 2.0, count) == (3, 0)  # a claim a moment older
    assert counts.get("emulator", T0 + 9, 2.0, count_while_the_fleet_changes) == (4, 0)
    assert counts.get("emulator", T0 + 9, 2.0, count) == (5, 0)
    assert counts.get("emulator", T0 + 9, 0.0, count) == (6, 0)  # no age allowed: afresh

    def count_while_asked_again() -> tuple[int, int]:
        # Another claim meanwhile is answered with the last count, not a second count.
        assert counts.get("emulator", T0 + 20, 2.0, count) == (6, 0)
        return count()

    assert counts.get("emulator", T0 + 20, 2.0, count_while_asked_again) == (7, 0)
    assert calls == [1, 2, 3, 4, 5, 6, 7]
