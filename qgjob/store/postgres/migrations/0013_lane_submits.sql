-- Each lane keeps when its newest job was submitted, read with the lane on every claim (a
-- build still being submitted is not joined while a batch arrives). Kept in the lane's row so
-- a claim reads one row per lane: joining job_groups, which keeps every group ever
-- submitted, cost a claim a lookup per ready lane (a hash join over the whole table with
-- thousands of ready lanes).
ALTER TABLE job_lanes ADD COLUMN newest_created_at DOUBLE PRECISION;

UPDATE job_lanes l SET newest_created_at = (
    SELECT max(j.created_at) FROM jobs j
    WHERE j.group_key = l.group_key AND j.org_id = l.org_id);
