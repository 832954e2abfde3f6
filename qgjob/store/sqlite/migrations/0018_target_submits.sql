-- Whether a target's oldest queued work came in a batch (`builds_submitted_between`): the
-- target's groups submitted around a time, read from the index entries of that target and
-- window alone.
CREATE INDEX job_groups_target_submitted ON job_groups (target, submitted_at);
