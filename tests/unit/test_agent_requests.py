"""The agent builds its requests from the protocol's models: a request the server would refuse
is refused before it is sent, and fields left at their defaults stay off the wire (so a server
older than a field still takes the request)."""

from __future__ import annotations

import json

import httpx
import pytest

from qgjob.agent.client import AgentClient, Rejected
from qgjob.domain.attempts import Outcome
from qgjob.domain.models import CaseResult
from qgjob.protocol import limits

pytestmark = pytest.mark.anyio


def recording_client(sent: list[dict[str, object]]) -> AgentClient:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"status": "completed"})

    client = AgentClient("http://qgjob.test")
    client._pools = [httpx.AsyncClient(transport=httpx.MockTransport(answer))
                     for _ in client._pools]
    return client


async def test_a_report_the_server_would_refuse_is_not_sent() -> None:
    sent: list[dict[str, object]] = []
    client = recording_client(sent)
    with pytest.raises(Rejected, match="status"):
        await client.report("job", "lease", 1, Outcome.FAILED, "boom",
                            [CaseResult("a test", "exploded", 1.0)])
    assert sent == []


async def test_a_report_keeps_to_the_limits_and_leaves_defaults_out() -> None:
    sent: list[dict[str, object]] = []
    client = recording_client(sent)
    long_error = "x" * (limits.REPORT_ERROR_MAX + 100)
    assert await client.report("job", "lease", 1, Outcome.FAILED, long_error) == "completed"
    [body] = sent
    assert body == {"lease_id": "lease", "attempt": 1, "outcome": "failed",
                    "error": "x" * limits.REPORT_ERROR_MAX}
