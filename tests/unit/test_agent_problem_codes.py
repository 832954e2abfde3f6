"""The agent decides what an error answer means from its `code` alone, never from its text."""

from __future__ import annotations

import httpx
import pytest

from qgjob.agent.client import (
    AgentClient,
    AgentUnknown,
    LeaseLost,
    NameInUse,
    Rejected,
    YieldToUrgentWork,
)
from qgjob.agent.output import OutputGap

pytestmark = pytest.mark.anyio


def client_answering(status: int, body: object) -> AgentClient:
    client = AgentClient("http://qgjob.test")
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    client._pools = [httpx.AsyncClient(transport=transport) for _ in client._pools]
    return client


@pytest.mark.parametrize(("status", "code", "raised"), [
    (409, "lease_lost", LeaseLost),
    (409, "yield", YieldToUrgentWork),
    (409, "agent_name_in_use", NameInUse),
    (404, "register_again", AgentUnknown),
])
async def test_a_code_names_what_happened(status: int, code: str, raised: type) -> None:
    client = client_answering(status, {"detail": "whatever the words", "code": code})
    with pytest.raises(raised, match="whatever the words"):
        await client.start("job", "lease")


async def test_an_output_gap_says_where_the_servers_output_ends() -> None:
    client = client_answering(409, {"detail": "past the end", "code": "output_gap",
                                    "next_offset": 42})
    with pytest.raises(OutputGap) as gap:
        await client.send_output("job", "lease", 1, "text", 50)
    assert gap.value.next_offset == 42 and not isinstance(gap.value, Rejected)


@pytest.mark.parametrize("body", [
    {"detail": "lease_lost: register again, yield, agent_name_in_use"},
    ["lease_lost"],
    "register again",
])
async def test_words_without_a_code_are_only_a_rejection(body: object) -> None:
    client = client_answering(409, body)
    with pytest.raises(Rejected):
        await client.start("job", "lease")
