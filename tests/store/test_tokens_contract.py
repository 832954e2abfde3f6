"""The storage contract for API tokens, agent-session owners and an org's view of groups."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from qgjob.auth import tokens
from qgjob.auth.tokens import Role
from qgjob.domain.models import DeviceSpec
from qgjob.store.base import NotFound, Store
from tests.factories import T0, new_job
from tests.store.helpers import claim, start


def test_tokens_are_stored_hashed_listed_and_revoked(store: Store) -> None:
    admin, admin_text = tokens.issue(Role.ADMIN, None, T0)
    acme, _ = tokens.issue(Role.SUBMITTER, "acme", T0 + 1)
    store.insert_token(admin)
    store.insert_token(acme)
    assert store.get_token(admin.token_id) == admin
    assert store.get_token("nope") is None
    assert [t.token_id for t in store.list_tokens()] == [admin.token_id, acme.token_id]
    presented = tokens.parse(admin_text)
    assert presented is not None
    # The secret itself may hold "_" (URL-safe base64), so take it from the parsed token.
    assert presented.secret not in repr(store.list_tokens())
    assert store.count_active_tokens() == 2

    revoked = store.revoke_token(acme.token_id, T0 + 5)
    assert (revoked.revoked_at, revoked.active) == (T0 + 5, False)
    assert store.revoke_token(acme.token_id, T0 + 9).revoked_at == T0 + 5  # a no-op
    assert store.count_active_tokens() == 1
    with pytest.raises(NotFound):
        store.revoke_token("nope", T0)


def test_last_use_is_recorded(store: Store) -> None:
    token, _ = tokens.issue(Role.AGENT, None, T0)
    store.insert_token(token)
    store.touch_token(token.token_id, T0 + 60)
    found = store.get_token(token.token_id)
    assert found is not None and found.last_used_at == T0 + 60


def test_an_agent_session_remembers_its_token(store: Store) -> None:
    specs = [DeviceSpec("emulator-1", "emulator")]
    store.register_agent("a1", "lab", "1", "simulate", specs, T0, token_id="tok1")
    store.register_agent("a2", "open-lab", "1", "simulate", specs, T0)
    owner = store.agent_owner("a1")
    assert owner is not None and (owner.name, owner.token_id) == ("lab", "tok1")
    owner = store.agent_owner("a2")
    assert owner is not None and owner.token_id is None
    assert store.agent_owner("nope") is None


def test_an_org_sees_only_its_own_jobs_in_shared_groups(store: Store) -> None:
    mine = store.insert_jobs([new_job("acme", "xyz123", at=T0),
                              new_job("acme", "xyz123", "tests/b.spec.js", at=T0 + 1),
                              new_job("acme", "abc", at=T0 + 2)])
    store.insert_jobs([new_job("globex", "xyz123", at=T0), new_job("globex", "other", at=T0)])
    groups = {g.app_version_id: g for g in store.org_groups("acme", False, 100)}
    assert set(groups) == {"xyz123", "abc"}
    assert list(groups["xyz123"].job_ids) == [mine[0].job_id, mine[1].job_id]
    assert groups["xyz123"].counts == {"queued": 2, "running": 0, "completed": 0, "failed": 0,
                                      "cancelled": 0}
    assert store.org_groups("nobody", True, 100) == []


def test_an_orgs_finished_groups_show_with_include_finished(store: Store) -> None:
    [job] = store.insert_jobs([new_job("acme", "xyz123", at=T0)])
    store.cancel_job(job.job_id, T0 + 1)
    assert store.org_groups("acme", False, 100) == []
    [group] = store.org_groups("acme", True, 100)
    assert group.job_ids == (job.job_id,) and group.counts["cancelled"] == 1


def test_running_jobs_count_as_running_for_their_org(store: Store) -> None:
    store.insert_jobs([new_job("acme", "xyz123", at=T0),
                       new_job("globex", "xyz123", at=T0 + 1)])  # acme's lane is the oldest
    store.register_agent("a1", "lab", "1", "simulate", [DeviceSpec("emulator-1", "emulator")],
                         T0)
    batch = claim(store, "a1", at=T0 + 1).batch
    assert batch is not None
    for job in batch.jobs:
        start(store, job.job_id, batch.lease.lease_id, T0 + 2)
    [acme] = store.org_groups("acme", False, 100)
    assert (acme.counts["running"], acme.counts["queued"], len(acme.job_ids)) == (1, 0, 1)


def test_the_online_session_of_a_name(store: Store) -> None:
    specs = [DeviceSpec("emulator-1", "emulator")]
    store.register_agent("a1", "lab", "1", "simulate", specs, T0, token_id="tok1")
    store.register_agent("a2", "lab", "1", "simulate", specs, T0 + 1, token_id="tok2")
    owner = store.online_agent_owner("lab")
    assert owner is not None and (owner.agent_id, owner.token_id) == ("a2", "tok2")
    store.mark_agents_offline(T0 + 10, T0 + 10)
    assert store.online_agent_owner("lab") is None
    assert store.online_agent_owner("other") is None


class NameHeld(Exception):
    """What a registration's `holder_check` raises here: the name has a live session."""


def test_registrations_of_one_name_at_once_find_its_holder_one_at_a_time(store: Store) -> None:
    """Each registration checks who holds the name inside its own transaction, one at a time
    (PostgreSQL: an advisory lock; SQLite: its one writer): of eight at once, one takes the
    name and seven find it held."""
    specs = [DeviceSpec("emulator-1", "emulator")]

    def held(owner: object) -> None:
        if owner is not None:
            raise NameHeld

    def register(n: int) -> bool:
        try:
            store.register_agent(f"a{n}", "lab", "1", "simulate", specs, T0, holder_check=held)
        except NameHeld:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        taken = list(pool.map(register, range(8)))
    assert taken.count(True) == 1
    owner = store.online_agent_owner("lab")
    assert owner is not None and owner.agent_id == f"a{taken.index(True)}"
