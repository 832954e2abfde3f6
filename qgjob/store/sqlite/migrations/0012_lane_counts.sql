-- A lane counts its queued jobs per priority in one column, a JSON object from priority to
-- count ({"3": 2, "5": 1}; a priority absent counts none), instead of five columns
-- queued_p1 ... queued_p5: a sixth priority is another key, not another column in the table,
-- its trigger, submits and every query that reads them. The counts stay in the lane's row, so
-- the claim path still reads one row per lane. The lane keeps its total (`queued`), which its
-- ready index is on.
ALTER TABLE job_lanes ADD COLUMN queued_by_priority TEXT NOT NULL DEFAULT '{}';

UPDATE job_lanes SET queued_by_priority = json_object(
    '1', queued_p1, '2', queued_p2, '3', queued_p3, '4', queued_p4, '5', queued_p5);

-- The state trigger of 0001, with the lane's counts per priority moved into the object.
DROP TRIGGER jobs_count_state;

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
    -- the trigger fires only when the state changes, so at most one side is 'queued'
    UPDATE job_lanes SET
        queued_by_priority = CASE
            WHEN NEW.state = 'queued' THEN json_set(
                queued_by_priority, '$."' || NEW.priority || '"',
                coalesce(json_extract(queued_by_priority, '$."' || NEW.priority || '"'), 0) + 1)
            WHEN OLD.state = 'queued' THEN json_set(
                queued_by_priority, '$."' || OLD.priority || '"',
                coalesce(json_extract(queued_by_priority, '$."' || OLD.priority || '"'), 0) - 1)
            ELSE queued_by_priority END,
        queued = queued + (NEW.state = 'queued') - (OLD.state = 'queued'),
        expected_seconds = expected_seconds
            + CASE WHEN NEW.state = 'queued' THEN NEW.expected_seconds ELSE 0 END
            - CASE WHEN OLD.state = 'queued' THEN OLD.expected_seconds ELSE 0 END
    WHERE group_key = NEW.group_key AND org_id = NEW.org_id;
END;

ALTER TABLE job_lanes DROP COLUMN queued_p1;
ALTER TABLE job_lanes DROP COLUMN queued_p2;
ALTER TABLE job_lanes DROP COLUMN queued_p3;
ALTER TABLE job_lanes DROP COLUMN queued_p4;
ALTER TABLE job_lanes DROP COLUMN queued_p5;
