-- API tokens and who registered each agent session (SQLite's migration 0004). A token's
-- secret is never stored, only its SHA-256 (hex). `org_id` is the org a submitter token acts
-- for; agent and admin tokens may carry one as a label (NULL otherwise).
CREATE TABLE api_tokens (
    id             TEXT PRIMARY KEY,
    org_id         TEXT,
    role           TEXT NOT NULL CHECK (role IN ('submitter', 'agent', 'admin')),
    secret_sha256  TEXT NOT NULL,
    created_at     DOUBLE PRECISION NOT NULL,
    last_used_at   DOUBLE PRECISION,
    revoked_at     DOUBLE PRECISION,
    CHECK (role <> 'submitter' OR org_id IS NOT NULL)
);
CREATE INDEX api_tokens_active ON api_tokens (created_at) WHERE revoked_at IS NULL;

-- The token an agent session registered with: an agent token acts only on its own sessions.
ALTER TABLE agents ADD COLUMN token_id TEXT;

-- A submitter's view of the groups: its own jobs in each group.
CREATE INDEX jobs_org_group ON jobs (org_id, group_key, created_at, id);
