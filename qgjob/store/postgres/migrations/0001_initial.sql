-- The PostgreSQL schema: the same tables, columns and indexes as SQLite's migrations 0001-0003
-- (times are seconds since the Unix epoch, flags are 0/1), with the counters kept by PL/pgSQL
-- triggers, and a notification whenever jobs become queued so that every replica can wake the
-- claims waiting on it.

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL,
    app_version_id    TEXT NOT NULL,
    test_path         TEXT NOT NULL,
    target            TEXT NOT NULL,
    priority          INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 5),
    group_key         TEXT NOT NULL,
    state             TEXT NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL,
    infra_failures    INTEGER NOT NULL DEFAULT 0,
    preemptions       INTEGER NOT NULL DEFAULT 0,
    expected_seconds  DOUBLE PRECISION NOT NULL,
    lease_id          TEXT,
    agent_name        TEXT,
    device_id         TEXT,
    last_device_id    TEXT,
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    preempt_requested INTEGER NOT NULL DEFAULT 0,
    flaky             INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    idempotency_key   TEXT,
    created_at        DOUBLE PRECISION NOT NULL,
    updated_at        DOUBLE PRECISION NOT NULL,
    started_at        DOUBLE PRECISION,
    finished_at       DOUBLE PRECISION,
    retry_at          DOUBLE PRECISION
);

CREATE INDEX jobs_lane_next ON jobs (group_key, org_id, priority DESC, created_at, id)
    WHERE state = 'queued';
CREATE INDEX jobs_lane_oldest ON jobs (group_key, org_id, created_at) WHERE state = 'queued';
CREATE INDEX jobs_queued_test ON jobs (test_path, target) WHERE state = 'queued';
CREATE INDEX jobs_newest ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_org_newest ON jobs (org_id, created_at DESC, id DESC);
CREATE INDEX jobs_group ON jobs (group_key, created_at, id);
CREATE INDEX jobs_active_group ON jobs (group_key, created_at)
    WHERE state IN ('queued', 'assigned', 'running', 'retry_wait');
CREATE INDEX jobs_lease ON jobs (lease_id) WHERE lease_id IS NOT NULL;
CREATE INDEX jobs_running ON jobs (target, started_at) WHERE state = 'running';
CREATE INDEX jobs_retry_due ON jobs (retry_at) WHERE state = 'retry_wait';
CREATE UNIQUE INDEX jobs_idempotency ON jobs (org_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE job_groups (
    group_key       TEXT PRIMARY KEY,
    target          TEXT NOT NULL,
    app_version_id  TEXT NOT NULL,
    org_id          TEXT,
    queued          INTEGER NOT NULL DEFAULT 0,
    assigned        INTEGER NOT NULL DEFAULT 0,
    running         INTEGER NOT NULL DEFAULT 0,
    retry_wait      INTEGER NOT NULL DEFAULT 0,
    completed       INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    cancelled       INTEGER NOT NULL DEFAULT 0,
    created_at      DOUBLE PRECISION NOT NULL,
    updated_at      DOUBLE PRECISION NOT NULL
);
CREATE INDEX job_groups_active ON job_groups (created_at)
    WHERE queued + assigned + running + retry_wait > 0;
CREATE INDEX job_groups_updated ON job_groups (updated_at);

CREATE TABLE job_lanes (
    group_key         TEXT NOT NULL,
    org_id            TEXT NOT NULL,
    target            TEXT NOT NULL,
    app_version_id    TEXT NOT NULL,
    queued_p1         INTEGER NOT NULL DEFAULT 0,
    queued_p2         INTEGER NOT NULL DEFAULT 0,
    queued_p3         INTEGER NOT NULL DEFAULT 0,
    queued_p4         INTEGER NOT NULL DEFAULT 0,
    queued_p5         INTEGER NOT NULL DEFAULT 0,
    queued            INTEGER NOT NULL DEFAULT 0,
    expected_seconds  DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (group_key, org_id)
);
CREATE INDEX job_lanes_ready ON job_lanes (target) WHERE queued > 0;

-- A job's contribution to its group's and lane's counters moves with its state. The lane row
-- is touched only when the job enters or leaves the queue, so that state changes of running
-- jobs do not queue up behind claims working on the same lane.
CREATE FUNCTION qgjob_count_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was_queued BOOLEAN := TG_OP = 'UPDATE' AND OLD.state = 'queued';
    is_queued BOOLEAN := NEW.state = 'queued';
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.state = NEW.state THEN
        IF is_queued AND OLD.expected_seconds <> NEW.expected_seconds THEN
            UPDATE job_lanes SET
                expected_seconds = expected_seconds + NEW.expected_seconds - OLD.expected_seconds
            WHERE group_key = NEW.group_key AND org_id = NEW.org_id;
        END IF;
        RETURN NULL;
    END IF;
    UPDATE job_groups SET
        queued = queued + (NEW.state = 'queued')::int - (was_queued)::int,
        assigned = assigned + (NEW.state = 'assigned')::int
            - (TG_OP = 'UPDATE' AND OLD.state = 'assigned')::int,
        running = running + (NEW.state = 'running')::int
            - (TG_OP = 'UPDATE' AND OLD.state = 'running')::int,
        retry_wait = retry_wait + (NEW.state = 'retry_wait')::int
            - (TG_OP = 'UPDATE' AND OLD.state = 'retry_wait')::int,
        completed = completed + (NEW.state = 'completed')::int
            - (TG_OP = 'UPDATE' AND OLD.state = 'completed')::int,
        failed = failed + (NEW.state = 'failed')::int
            - (TG_OP = 'UPDATE' AND OLD.state = 'failed')::int,
        cancelled = cancelled + (NEW.state = 'cancelled')::int
            - (TG_OP = 'UPDATE' AND OLD.state = 'cancelled')::int,
        updated_at = NEW.updated_at
    WHERE group_key = NEW.group_key;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO job_lanes (group_key, org_id, target, app_version_id)
        VALUES (NEW.group_key, NEW.org_id, NEW.target, NEW.app_version_id)
        ON CONFLICT (group_key, org_id) DO NOTHING;
    END IF;
    IF is_queued OR was_queued THEN
        UPDATE job_lanes SET
            queued_p1 = queued_p1 + (is_queued AND NEW.priority = 1)::int
                                  - (was_queued AND OLD.priority = 1)::int,
            queued_p2 = queued_p2 + (is_queued AND NEW.priority = 2)::int
                                  - (was_queued AND OLD.priority = 2)::int,
            queued_p3 = queued_p3 + (is_queued AND NEW.priority = 3)::int
                                  - (was_queued AND OLD.priority = 3)::int,
            queued_p4 = queued_p4 + (is_queued AND NEW.priority = 4)::int
                                  - (was_queued AND OLD.priority = 4)::int,
            queued_p5 = queued_p5 + (is_queued AND NEW.priority = 5)::int
                                  - (was_queued AND OLD.priority = 5)::int,
            queued = queued + is_queued::int - was_queued::int,
            expected_seconds = expected_seconds
                + CASE WHEN is_queued THEN NEW.expected_seconds ELSE 0 END
                - CASE WHEN was_queued THEN OLD.expected_seconds ELSE 0 END
        WHERE group_key = NEW.group_key AND org_id = NEW.org_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION qgjob_count_jobs();
CREATE TRIGGER jobs_count_update AFTER UPDATE OF state, expected_seconds ON jobs
    FOR EACH ROW EXECUTE FUNCTION qgjob_count_jobs();

-- Work appeared: a notification per job that became queued (inserted, retried, handed back,
-- rescued), delivered to every listening replica when the transaction commits, so that a
-- claim waiting on any replica wakes. The channel is per schema: `qgjob_work_<schema>`; the
-- payload is "target<TAB>app_version_id<TAB>job id" (the id keeps PostgreSQL from folding
-- the notifications of one transaction into one).
CREATE FUNCTION qgjob_notify_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('qgjob_work_' || current_schema(),
                      NEW.target || E'\t' || NEW.app_version_id || E'\t' || NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION qgjob_notify_queued();
CREATE TRIGGER jobs_notify_requeue AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state = 'queued' AND OLD.state <> 'queued')
    EXECUTE FUNCTION qgjob_notify_queued();

CREATE TABLE agents (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    version        TEXT NOT NULL,
    executor       TEXT NOT NULL,
    state          TEXT NOT NULL,
    registered_at  DOUBLE PRECISION NOT NULL,
    last_seen_at   DOUBLE PRECISION NOT NULL
);
CREATE INDEX agents_name ON agents (name, registered_at DESC);
CREATE INDEX agents_online ON agents (last_seen_at) WHERE state = 'online';

CREATE TABLE devices (
    id                     TEXT PRIMARY KEY,
    agent_id               TEXT NOT NULL REFERENCES agents (id),
    agent_name             TEXT NOT NULL,
    name                   TEXT NOT NULL,
    target                 TEXT NOT NULL,
    state                  TEXT NOT NULL,
    holds_app_version_id   TEXT,
    current_job_id         TEXT,
    last_seen_at           DOUBLE PRECISION NOT NULL
);
CREATE INDEX devices_agent ON devices (agent_id);
CREATE INDEX devices_target ON devices (target, state);
CREATE INDEX devices_agent_name ON devices (agent_name);

CREATE TABLE leases (
    id            TEXT PRIMARY KEY,
    agent_id      TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    group_key     TEXT NOT NULL,
    org_id        TEXT NOT NULL,
    target        TEXT NOT NULL,
    jobs_started  INTEGER NOT NULL DEFAULT 0,
    created_at    DOUBLE PRECISION NOT NULL,
    expires_at    DOUBLE PRECISION NOT NULL
);
CREATE INDEX leases_expiry ON leases (expires_at);
CREATE INDEX leases_agent ON leases (agent_id);
CREATE INDEX leases_device ON leases (device_id);
CREATE INDEX leases_target ON leases (target, expires_at);

CREATE TABLE attempts (
    job_id          TEXT NOT NULL REFERENCES jobs (id),
    attempt         INTEGER NOT NULL,
    device_id       TEXT NOT NULL,
    agent_name      TEXT NOT NULL,
    started_at      DOUBLE PRECISION NOT NULL,
    finished_at     DOUBLE PRECISION,
    outcome         TEXT,
    error           TEXT,
    output          TEXT NOT NULL DEFAULT '',
    output_dropped  BIGINT NOT NULL DEFAULT 0,
    details         TEXT,
    PRIMARY KEY (job_id, attempt)
);
CREATE INDEX attempts_finished ON attempts (finished_at);

CREATE TABLE attempt_files (
    job_id      TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    content     BYTEA NOT NULL,
    PRIMARY KEY (job_id, attempt, name),
    FOREIGN KEY (job_id, attempt) REFERENCES attempts (job_id, attempt)
);

CREATE TABLE installs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id       TEXT NOT NULL,
    app_version_id  TEXT NOT NULL,
    target          TEXT NOT NULL,
    started_at      DOUBLE PRECISION NOT NULL,
    finished_at     DOUBLE PRECISION NOT NULL,
    ok              INTEGER NOT NULL
);
CREATE INDEX installs_device ON installs (device_id, finished_at);
CREATE INDEX installs_target ON installs (target, id) WHERE ok = 1;
CREATE INDEX installs_finished ON installs (finished_at);

CREATE TABLE test_durations (
    test_path       TEXT NOT NULL,
    target          TEXT NOT NULL,
    samples         INTEGER NOT NULL,
    mean_seconds    DOUBLE PRECISION NOT NULL,
    priced_seconds  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (test_path, target)
);
CREATE TABLE target_durations (
    target          TEXT PRIMARY KEY,
    samples         INTEGER NOT NULL,
    total_seconds   DOUBLE PRECISION NOT NULL
);
