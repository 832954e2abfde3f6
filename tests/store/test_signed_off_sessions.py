"""A session that signed off has ended, on every store: it claims nothing, its heartbeats are
unknown and its installs are refused (RegisterAgain, as for a session taken over). On
PostgreSQL a claim whose transaction overlaps the sign-off's, or a take-over's, or the agent
being forgotten, waits for it and takes nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from qgjob.domain.states import JobState
from qgjob.store import open_store
from qgjob.store.base import ClaimResult, DeviceReport, RegisterAgain, Store
from qgjob.store.sql.store import SqlStore
from tests.factories import T0, new_job
from tests.postgres import database_url
from tests.store.helpers import LEASE, claim, register


def test_a_signed_off_session_takes_no_work(store: Store) -> None:
    [job] = store.insert_jobs([new_job()])
    agent = register(store, at=T0)
    store.sign_off(agent)
    with pytest.raises(RegisterAgain):
        claim(store, agent, at=T0 + 1)
    assert store.get_job(job.job_id) == job
    assert [a.state for a in store.list_agents()] == ["offline"]


def test_a_session_gone_silent_that_signs_off_ends_too(store: Store) -> None:
    store.insert_jobs([new_job()])
    agent = register(store, at=T0)
    assert store.mark_agents_offline(seen_before=T0 + 1, now=T0 + 31) == [agent]
    assert store.sign_off(agent) is True  # an offline session ends too
    with pytest.raises(RegisterAgain):
        claim(store, agent, at=T0 + 32)


def test_a_signed_off_session_is_not_brought_back(store: Store) -> None:
    agent = register(store, name="lab", at=T0)
    assert store.sign_off(agent) is True
    idle = [DeviceReport("emulator-1", "idle", None)]
    assert store.heartbeat(agent, idle, T0 + 1, LEASE).known is False
    assert store.online_agent_owner("lab") is None
    [listed] = store.list_agents()
    assert listed.state == "offline" and listed.last_seen_at == T0
    assert [d.state for d in listed.devices] == ["offline"]
    with pytest.raises(RegisterAgain):
        store.record_install(agent, "emulator-1", "v1", "emulator", T0 + 1, T0 + 2, ok=True)
    assert store.sign_off(agent) is False  # again: nothing changes
    assert store.sign_off("never-was") is False
    assert [a.state for a in store.list_agents()] == ["offline"]


def test_a_silent_session_still_comes_back(store: Store) -> None:
    """Only a sign-off ends a session: one marked offline for its silence works again."""
    store.insert_jobs([new_job()])
    agent = register(store, at=T0)
    store.mark_agents_offline(seen_before=T0 + 1, now=T0 + 31)
    assert claim(store, agent, at=T0 + 32).batch is not None
    assert store.heartbeat(agent, [], T0 + 33, LEASE).known is True
    assert [a.state for a in store.list_agents()] == ["online"]


ENDINGS = {
    "sign-off": ("sign_off_agent", lambda agent: {"agent_id": agent}),
    "take-over": ("replace_agents_named", lambda agent: {"name": "lab"}),
    "forget": ("forget_agent", lambda agent: {"name": "lab"}),
}
"""The first statement of each way a session ends, and its parameters."""


@pytest.mark.postgres
@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_a_claim_overlapping_the_session_s_end_waits_and_takes_nothing(
        tmp_path: Path, ending: str) -> None:
    statement, params = ENDINGS[ending]
    with database_url("postgres", tmp_path) as url:
        store, replica = open_store(url), open_store(url)
        try:
            [job] = store.insert_jobs([new_job()])
            agent = register(store, name="lab", at=T0)
            assert isinstance(replica, SqlStore)
            answers: list[ClaimResult | Exception] = []

            def claiming() -> None:
                try:
                    answers.append(claim(store, agent, at=T0 + 1))
                except RegisterAgain as refused:
                    answers.append(refused)

            # The ending's first statement, on another replica, not committed yet.
            with replica._db.write() as tx:
                assert tx.run(statement, params(agent)).rowcount == 1
                racing = threading.Thread(target=claiming)
                racing.start()
                racing.join(timeout=0.5)
                assert racing.is_alive() and not answers, "the claim did not wait"
            racing.join(timeout=30)
            assert [type(answer) for answer in answers] == [RegisterAgain]
            after = store.get_job(job.job_id)
            assert after is not None and after.state is JobState.QUEUED
            assert after.lease_id is None and after.device_id is None
        finally:
            store.close()
            replica.close()
