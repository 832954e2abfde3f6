-- Test health: what each test did, kept current as attempts finish, so reading it never
-- scans the attempts. A test is (org, target, test file, title); the title is '' for the
-- file as a whole, else a test case the report named.

-- Per test and app build: passes and failures there. Both on one build = flaky there.
CREATE TABLE test_builds (
    org_id          TEXT NOT NULL,
    target          TEXT NOT NULL,
    test_path       TEXT NOT NULL,
    title           TEXT NOT NULL,
    app_version_id  TEXT NOT NULL,
    passed          INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    first_at        REAL NOT NULL,
    last_at         REAL NOT NULL,
    PRIMARY KEY (org_id, target, test_path, title, app_version_id)
);
CREATE INDEX test_builds_recent ON test_builds (org_id, target, test_path, title, last_at);
CREATE INDEX test_builds_expiry ON test_builds (last_at);

-- Per test: counts since first seen, the last runs (outcomes `recent`, durations
-- `recent_seconds`, newest last) and what is derived from them when a run is recorded.
CREATE TABLE test_health (
    org_id              TEXT NOT NULL,
    target              TEXT NOT NULL,
    test_path           TEXT NOT NULL,
    title               TEXT NOT NULL,
    runs                INTEGER NOT NULL,
    passed              INTEGER NOT NULL,
    failed              INTEGER NOT NULL,
    recent              TEXT NOT NULL,
    recent_seconds      TEXT NOT NULL,
    pass_rate           REAL NOT NULL,
    p50_seconds         REAL NOT NULL,
    p95_seconds         REAL NOT NULL,
    trend               REAL,
    builds              INTEGER NOT NULL,
    flaky_builds        INTEGER NOT NULL,
    flaky_score         REAL NOT NULL,
    first_seen          REAL NOT NULL,
    last_seen           REAL NOT NULL,
    last_outcome        TEXT NOT NULL,
    last_app_version_id TEXT NOT NULL,
    last_failure_at     REAL,
    last_error          TEXT,
    last_failure_app_version_id TEXT,
    last_failure_job_id TEXT,
    PRIMARY KEY (org_id, target, test_path, title)
);
CREATE INDEX test_health_expiry ON test_health (last_seen);

-- Tests an org quarantined: they still run and are reported, but do not fail a run.
CREATE TABLE quarantined_tests (
    org_id     TEXT NOT NULL,
    test_path  TEXT NOT NULL,
    reason     TEXT NOT NULL,
    added_by   TEXT,
    added_at   REAL NOT NULL,
    PRIMARY KEY (org_id, test_path)
);

-- Per org and hour (seconds since the epoch / 3600): jobs that finished, attempts and the
-- device time they took, and how long finished jobs waited in the queue (a histogram: one
-- row per bucket of qgjob/domain/stats.py), for `GET /stats` over any window of hours.
-- Counted from this migration on.
CREATE TABLE org_hours (
    org_id          TEXT NOT NULL,
    epoch_hour      INTEGER NOT NULL,
    completed       INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    cancelled       INTEGER NOT NULL DEFAULT 0,
    flaky           INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    device_seconds  REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, epoch_hour)
);
CREATE INDEX org_hours_hour ON org_hours (epoch_hour);
CREATE TABLE org_waits (
    org_id      TEXT NOT NULL,
    epoch_hour  INTEGER NOT NULL,
    bucket      INTEGER NOT NULL,
    jobs        INTEGER NOT NULL,
    PRIMARY KEY (org_id, epoch_hour, bucket)
);
CREATE INDEX org_waits_hour ON org_waits (epoch_hour);

-- Earlier failures of a test on a build (is this failure a repeat?), and why an attempt was
-- not retried.
CREATE INDEX jobs_test_build ON jobs (org_id, test_path, target, app_version_id);
ALTER TABLE attempts ADD COLUMN note TEXT;
