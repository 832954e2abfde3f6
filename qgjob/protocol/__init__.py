"""The wire protocol, shared by the server (qgjob/api), the agent (qgjob/agent/client.py) and
the CLI: the JSON models (pydantic) and the limits both sides keep to.

- `limits`: every cap, once (plain numbers: the CLI imports it without pydantic);
- `fields`: identifier, text and priority types, and `Strict`, the base of request bodies;
- `jobs`: submissions, jobs, their test cases and files;
- `agents`: the agent protocol (register, claim, start, report, output, heartbeat);
- `cluster`: groups, agents, the queue, the server's health;
- `fleet`, `history`, `health`: fleet operations, attempts and timelines, test health.

Nothing here imports the server: the agent and the CLI depend on this package alone.
"""
