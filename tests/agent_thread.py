"""An agent running in a background thread, for tests that drive the CLI synchronously."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from qgjob.agent.client import AgentClient
from qgjob.agent.devices import parse_devices
from qgjob.agent.executors.base import Executor
from qgjob.agent.runner import Agent


@contextmanager
def running_agent(server: str, executor: Executor,
                  devices: str = "emulator:2,device:1", token: str | None = None
                  ) -> Iterator[Agent]:
    loop = asyncio.new_event_loop()
    agent_box: list[Agent] = []

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            client = AgentClient(server, token)
            agent = Agent(client, "cli-test", parse_devices(devices), executor)
            agent_box.append(agent)
            try:
                await agent.run()
            finally:
                await client.close()

        loop.run_until_complete(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while not agent_box:
        threading.Event().wait(0.01)
    try:
        yield agent_box[0]
    finally:
        loop.call_soon_threadsafe(agent_box[0].stop, True)
        thread.join(15)
        loop.close()
