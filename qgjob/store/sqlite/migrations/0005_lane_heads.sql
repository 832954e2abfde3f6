-- Each lane keeps its head (the job a claim takes next: highest priority, then oldest, then
-- lowest id) and its oldest queued job's submit time, so the claim path reads one row per lane
-- instead of probing the jobs index twice per lane. A job entering the queue may become the
-- head or the oldest; the head or the oldest leaving it is looked up again (one index probe).

ALTER TABLE job_lanes ADD COLUMN head_id TEXT;
ALTER TABLE job_lanes ADD COLUMN head_priority INTEGER;
ALTER TABLE job_lanes ADD COLUMN head_created_at REAL;
ALTER TABLE job_lanes ADD COLUMN oldest_created_at REAL;

UPDATE job_lanes SET (head_id, head_priority, head_created_at) = (
    SELECT j.id, j.priority, j.created_at FROM jobs j
    WHERE j.group_key = job_lanes.group_key AND j.org_id = job_lanes.org_id
      AND j.state = 'queued'
    ORDER BY j.priority DESC, j.created_at, j.id LIMIT 1);
UPDATE job_lanes SET oldest_created_at = (
    SELECT min(j.created_at) FROM jobs j
    WHERE j.group_key = job_lanes.group_key AND j.org_id = job_lanes.org_id
      AND j.state = 'queued');

CREATE TRIGGER jobs_lane_enter_insert AFTER INSERT ON jobs
WHEN NEW.state = 'queued'
BEGIN
    INSERT INTO job_lanes (group_key, org_id, target, app_version_id)
    VALUES (NEW.group_key, NEW.org_id, NEW.target, NEW.app_version_id)
    ON CONFLICT (group_key, org_id) DO NOTHING;
    UPDATE job_lanes SET head_id = NEW.id, head_priority = NEW.priority,
                         head_created_at = NEW.created_at
    WHERE group_key = NEW.group_key AND org_id = NEW.org_id
      AND (head_id IS NULL OR NEW.priority > head_priority
           OR (NEW.priority = head_priority AND (NEW.created_at < head_created_at
               OR (NEW.created_at = head_created_at AND NEW.id < head_id))));
    UPDATE job_lanes SET oldest_created_at = NEW.created_at
    WHERE group_key = NEW.group_key AND org_id = NEW.org_id
      AND (oldest_created_at IS NULL OR NEW.created_at < oldest_created_at);
END;

CREATE TRIGGER jobs_lane_enter_update AFTER UPDATE OF state ON jobs
WHEN NEW.state = 'queued' AND OLD.state <> 'queued'
BEGIN
    UPDATE job_lanes SET head_id = NEW.id, head_priority = NEW.priority,
                         head_created_at = NEW.created_at
    WHERE group_key = NEW.group_key AND org_id = NEW.org_id
      AND (head_id IS NULL OR NEW.priority > head_priority
           OR (NEW.priority = head_priority AND (NEW.created_at < head_created_at
               OR (NEW.created_at = head_created_at AND NEW.id < head_id))));
    UPDATE job_lanes SET oldest_created_at = NEW.created_at
    WHERE group_key = NEW.group_key AND org_id = NEW.org_id
      AND (oldest_created_at IS NULL OR NEW.created_at < oldest_created_at);
END;

CREATE TRIGGER jobs_lane_leave AFTER UPDATE OF state ON jobs
WHEN OLD.state = 'queued' AND NEW.state <> 'queued'
BEGIN
    UPDATE job_lanes SET (head_id, head_priority, head_created_at) = (
        SELECT j.id, j.priority, j.created_at FROM jobs j
        WHERE j.group_key = OLD.group_key AND j.org_id = OLD.org_id AND j.state = 'queued'
        ORDER BY j.priority DESC, j.created_at, j.id LIMIT 1)
    WHERE group_key = OLD.group_key AND org_id = OLD.org_id AND head_id = OLD.id;
    UPDATE job_lanes SET oldest_created_at = (
        SELECT min(j.created_at) FROM jobs j
        WHERE j.group_key = OLD.group_key AND j.org_id = OLD.org_id AND j.state = 'queued')
    WHERE group_key = OLD.group_key AND org_id = OLD.org_id
      AND oldest_created_at = OLD.created_at;
END;
