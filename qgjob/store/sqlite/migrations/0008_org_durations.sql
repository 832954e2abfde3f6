-- Learned test durations are kept per org: two orgs' `tests/login.spec.js` are different
-- tests. What was learned per test path alone cannot be told apart by org, so it is dropped
-- and learned again from the next finished attempts; each target's prior (the mean of all
-- its tests, used for tests never seen) is kept.

DROP TABLE test_durations;
CREATE TABLE test_durations (
    org_id          TEXT NOT NULL,
    test_path       TEXT NOT NULL,
    target          TEXT NOT NULL,
    samples         INTEGER NOT NULL,
    mean_seconds    REAL NOT NULL,
    priced_seconds  REAL NOT NULL,
    PRIMARY KEY (org_id, target, test_path)
);

DROP INDEX jobs_queued_test;
CREATE INDEX jobs_queued_test ON jobs (org_id, test_path, target) WHERE state = 'queued';
