-- Each group keeps when its newest job was submitted, so a claim counts the groups submitted
-- within a window (a batch of builds: `builds_submitted_since`) from at most that many index
-- entries, where reading the jobs submitted within the window read every one of them.
ALTER TABLE job_groups ADD COLUMN submitted_at REAL;

UPDATE job_groups SET submitted_at = (
    SELECT max(j.created_at) FROM jobs j WHERE j.group_key = job_groups.group_key);

CREATE INDEX job_groups_submitted ON job_groups (submitted_at);
