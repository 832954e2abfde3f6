-- Jobs, their groups and lanes, agents, devices, leases, attempts, installs and the duration
-- history. Times are seconds since the Unix epoch (REAL). States are JobState values.

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
    expected_seconds  REAL NOT NULL,
    lease_id          TEXT,
    agent_name        TEXT,
    device_id         TEXT,
    last_device_id    TEXT,
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    preempt_requested INTEGER NOT NULL DEFAULT 0,
    flaky             INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    idempotency_key   TEXT,
    created_at        REAL NOT NULL,
    updated_at        REAL NOT NULL,
    started_at        REAL,
    finished_at       REAL,
    retry_at          REAL
);

-- The claim path: a lane's next jobs, highest priority then oldest first; its oldest job.
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

-- Per group: jobs in each state, for `GET /groups`. The insert path creates a group's row
-- before its first job; triggers keep the counts in the same transaction as each change.
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
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL
);
CREATE INDEX job_groups_active ON job_groups (created_at)
    WHERE queued + assigned + running + retry_wait > 0;

-- Per lane (the queued jobs of one group from one org): what the scheduling policy reads on
-- every claim, so a claim never scans the queue.
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
    expected_seconds  REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (group_key, org_id)
);
CREATE INDEX job_lanes_ready ON job_lanes (target) WHERE queued > 0;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
BEGIN
    UPDATE job_groups SET
        queued = queued + (NEW.state = 'queued'),
        updated_at = NEW.updated_at
    WHERE group_key = NEW.group_key;
    INSERT INTO job_lanes (group_key, org_id, target, app_version_id)
    VALUES (NEW.group_key, NEW.org_id, NEW.target, NEW.app_version_id)
    ON CONFLICT (group_key, org_id) DO NOTHING;
    UPDATE job_lanes SET
        queued_p1 = queued_p1 + (NEW.state = 'queued' AND NEW.priority = 1),
        queued_p2 = queued_p2 + (NEW.state = 'queued' AND NEW.priority = 2),
        queued_p3 = queued_p3 + (NEW.state = 'queued' AND NEW.priority = 3),
        queued_p4 = queued_p4 + (NEW.state = 'queued' AND NEW.priority = 4),
        queued_p5 = queued_p5 + (NEW.state = 'queued' AND NEW.priority = 5),
        queued = queued + (NEW.state = 'queued'),
        expected_seconds = expected_seconds
            + CASE WHEN NEW.state = 'queued' THEN NEW.expected_seconds ELSE 0 END
    WHERE group_key = NEW.group_key AND org_id = NEW.org_id;
END;

CREATE TRIGGER jobs_count_state AFTER UPDATE OF state ON jobs
WHEN OLD.state <> NEW.state
BEGIN
    UPDATE job_groups SET
        queued = queued + (NEW.state = 'queued') - (OLD.state = 'queued'),
        assigned = assigned + (NEW.state = 'assigned') - (OLD.state = 'assigned'),
        running = running + (NEW.state = 'running') - (OLD.state = 'running'),
        retry_wait = retry_wait + (NEW.state = 'retry_wait') - (OLD.state = 'retry_wait'),
        completed = completed + (NEW.state = 'completed') - (OLD.state = 'completed'),
        failed = failed + (NEW.state = 'failed') - (OLD.state = 'failed'),
        cancelled = cancelled + (NEW.state = 'cancelled') - (OLD.state = 'cancelled'),
        updated_at = NEW.updated_at
    WHERE group_key = NEW.group_key;
    UPDATE job_lanes SET
        queued_p1 = queued_p1 + (NEW.state = 'queued' AND NEW.priority = 1)
                              - (OLD.state = 'queued' AND OLD.priority = 1),
        queued_p2 = queued_p2 + (NEW.state = 'queued' AND NEW.priority = 2)
                              - (OLD.state = 'queued' AND OLD.priority = 2),
        queued_p3 = queued_p3 + (NEW.state = 'queued' AND NEW.priority = 3)
                              - (OLD.state = 'queued' AND OLD.priority = 3),
        queued_p4 = queued_p4 + (NEW.state = 'queued' AND NEW.priority = 4)
                              - (OLD.state = 'queued' AND OLD.priority = 4),
        queued_p5 = queued_p5 + (NEW.state = 'queued' AND NEW.priority = 5)
                              - (OLD.state = 'queued' AND OLD.priority = 5),
        queued = queued + (NEW.state = 'queued') - (OLD.state = 'queued'),
        expected_seconds = expected_seconds
            + CASE WHEN NEW.state = 'queued' THEN NEW.expected_seconds ELSE 0 END
            - CASE WHEN OLD.state = 'queued' THEN OLD.expected_seconds ELSE 0 END
    WHERE group_key = NEW.group_key AND org_id = NEW.org_id;
END;

-- Re-pricing a queued job (its test's learned duration moved) moves its lane's expected work.
CREATE TRIGGER jobs_reprice AFTER UPDATE OF expected_seconds ON jobs
WHEN OLD.state = 'queued' AND NEW.state = 'queued'
     AND OLD.expected_seconds <> NEW.expected_seconds
BEGIN
    UPDATE job_lanes SET
        expected_seconds = expected_seconds + NEW.expected_seconds - OLD.expected_seconds
    WHERE group_key = NEW.group_key AND org_id = NEW.org_id;
END;

CREATE TABLE agents (
    id             TEXT PRIMARY KEY,   -- one per agent process run ("session")
    name           TEXT NOT NULL,
    version        TEXT NOT NULL,
    executor       TEXT NOT NULL,
    state          TEXT NOT NULL,      -- online, offline, replaced
    registered_at  REAL NOT NULL,
    last_seen_at   REAL NOT NULL
);
CREATE INDEX agents_name ON agents (name, registered_at DESC);
CREATE INDEX agents_online ON agents (last_seen_at) WHERE state = 'online';

-- A device is named by its agent's name and its own, so it keeps its history (and the app it
-- holds) across agent restarts; `agent_id` is the session that drives it now.
CREATE TABLE devices (
    id                     TEXT PRIMARY KEY,   -- "<agent name>/<device name>"
    agent_id               TEXT NOT NULL REFERENCES agents (id),
    agent_name             TEXT NOT NULL,
    name                   TEXT NOT NULL,
    target                 TEXT NOT NULL,
    state                  TEXT NOT NULL,      -- idle, installing, running, offline
    holds_app_version_id   TEXT,
    current_job_id         TEXT,
    last_seen_at           REAL NOT NULL
);
CREATE INDEX devices_agent ON devices (agent_id);
CREATE INDEX devices_target ON devices (target, state);

-- A batch handed to a device: jobs of one lane.
CREATE TABLE leases (
    id            TEXT PRIMARY KEY,
    agent_id      TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    group_key     TEXT NOT NULL,
    org_id        TEXT NOT NULL,
    target        TEXT NOT NULL,
    jobs_started  INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL,
    expires_at    REAL NOT NULL
);
CREATE INDEX leases_expiry ON leases (expires_at);
CREATE INDEX leases_agent ON leases (agent_id);
CREATE INDEX leases_device ON leases (device_id);
CREATE INDEX leases_target ON leases (target, expires_at);

CREATE TABLE attempts (
    job_id       TEXT NOT NULL REFERENCES jobs (id),
    attempt      INTEGER NOT NULL,
    device_id    TEXT NOT NULL,
    agent_name   TEXT NOT NULL,
    started_at   REAL NOT NULL,
    finished_at  REAL,
    outcome      TEXT,
    error        TEXT,
    PRIMARY KEY (job_id, attempt)
);

CREATE TABLE installs (
    id              INTEGER PRIMARY KEY,
    device_id       TEXT NOT NULL,
    app_version_id  TEXT NOT NULL,
    target          TEXT NOT NULL,
    started_at      REAL NOT NULL,
    finished_at     REAL NOT NULL,
    ok              INTEGER NOT NULL
);
CREATE INDEX installs_device ON installs (device_id, finished_at);
CREATE INDEX installs_target ON installs (target, id) WHERE ok = 1;

-- Learned test durations (see qgjob/scheduler/durations.py), and a prior per target.
CREATE TABLE test_durations (
    test_path       TEXT NOT NULL,
    target          TEXT NOT NULL,
    samples         INTEGER NOT NULL,
    mean_seconds    REAL NOT NULL,
    priced_seconds  REAL NOT NULL,
    PRIMARY KEY (test_path, target)
);
CREATE TABLE target_durations (
    target          TEXT PRIMARY KEY,
    samples         INTEGER NOT NULL,
    total_seconds   REAL NOT NULL
);
