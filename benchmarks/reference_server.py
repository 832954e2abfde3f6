"""The ceiling our submit endpoint is measured against: the least a FastAPI service on our
stack can do to accept a job durably. It validates the same body (`JobCreate`, the model of
`POST /jobs`), inserts one row into SQLite with the same durability (WAL, synchronous=FULL,
one transaction per request, behind one writer lock as in our store) and answers 201 with the
job's id. No auth, no rate limit, no idempotency, no grouping, no lane counters: what is left
is the framework, the validation and the fsync.

Served by the same uvicorn configuration and pre-bound socket as `qgjob server`:

    python -m benchmarks.reference_server --port 8099 --db /tmp/reference.db
"""

from __future__ import annotations

import argparse
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI, status

from qgjob.protocol.jobs import JobCreate

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, app_version_id TEXT NOT NULL,
    test_path TEXT NOT NULL, target TEXT NOT NULL, priority INTEGER NOT NULL,
    max_attempts INTEGER, idempotency_key TEXT, created_at REAL NOT NULL)
"""


def reference_app(db: Path) -> FastAPI:
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(SCHEMA)
    lock = threading.Lock()
    app = FastAPI(title="reference submit endpoint")

    def insert(job: JobCreate) -> str:
        job_id = uuid.uuid4().hex
        with lock:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                job_id, job.org_id, job.app_version_id, job.test_path, job.target,
                int(job.priority), job.max_attempts, job.idempotency_key, time.time()))
            conn.execute("COMMIT")
        return job_id

    @app.post("/jobs", status_code=status.HTTP_201_CREATED)
    async def submit(body: JobCreate) -> dict[str, str]:
        return {"job_id": await to_thread.run_sync(insert, body), "status": "queued"}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    import uvicorn

    from qgjob.processes import listen_socket

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    sock = listen_socket("127.0.0.1", args.port)
    config = uvicorn.Config(reference_app(args.db), log_level="warning", access_log=False,
                            timeout_graceful_shutdown=10)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
