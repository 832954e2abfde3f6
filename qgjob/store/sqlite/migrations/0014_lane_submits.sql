-- Each lane keeps when its newest job was submitted, read with the lane on every claim (a
-- build still being submitted is not joined while a batch arrives). Kept in the lane's row so
-- a claim reads one row per lane: joining job_groups, which keeps every group ever
-- submitted, cost a claim a lookup per ready lane.
ALTER TABLE job_lanes ADD COLUMN newest_created_at REAL;

UPDATE job_lanes SET newest_created_at = (
    SELECT max(j.created_at) FROM jobs j
    WHERE j.group_key = job_lanes.group_key AND j.org_id = job_lanes.org_id);
