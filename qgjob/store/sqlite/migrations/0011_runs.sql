-- Runs: the jobs one `qgjob run` (or one batch of submits) queued, as one thing with a name,
-- its CI origin (where known) and a link to the run it re-runs. Its status and counts are not
-- stored: they are read from its jobs (qgjob/store/sql/runs.py), so they cannot drift.

CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL,
    app_version_id   TEXT NOT NULL,
    name             TEXT NOT NULL,
    repository       TEXT,
    workflow         TEXT,
    ci_run_id        TEXT,
    ci_run_attempt   INTEGER,
    commit_sha       TEXT,
    branch           TEXT,
    pull_request     INTEGER,
    url              TEXT,
    rerun_of         TEXT REFERENCES runs (id),
    attempt          INTEGER NOT NULL DEFAULT 1,
    idempotency_key  TEXT,
    created_at       REAL NOT NULL
);
CREATE INDEX runs_newest ON runs (created_at DESC, id DESC);
CREATE INDEX runs_org_newest ON runs (org_id, created_at DESC, id DESC);
CREATE INDEX runs_reruns ON runs (rerun_of) WHERE rerun_of IS NOT NULL;
CREATE UNIQUE INDEX runs_idempotency ON runs (org_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- No foreign key: a submit would check it once per job; the service checks the run once.
ALTER TABLE jobs ADD COLUMN run_id TEXT;
CREATE INDEX jobs_run ON jobs (run_id, test_path) WHERE run_id IS NOT NULL;
