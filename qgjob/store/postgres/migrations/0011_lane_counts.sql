-- A lane counts its queued jobs per priority in one column, a jsonb object from priority to
-- count ({"3": 2, "5": 1}; a priority absent counts none), instead of five columns
-- queued_p1 ... queued_p5: a sixth priority is another key, not another column in the table,
-- its trigger, submits and every query that reads them. The counts stay in the lane's row, so
-- the claim path still reads one row per lane (SQLite's migration 0011). The lane keeps its
-- total (`queued`), which its ready index is on.
ALTER TABLE job_lanes ADD COLUMN queued_by_priority JSONB NOT NULL DEFAULT '{}';

UPDATE job_lanes SET queued_by_priority = jsonb_build_object(
    '1', queued_p1, '2', queued_p2, '3', queued_p3, '4', queued_p4, '5', queued_p5);

-- The counting trigger's function of 0003, with the counts per priority moved into the object.
CREATE OR REPLACE FUNCTION qgjob_count_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
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
            -- the state changed, so exactly one of is_queued and was_queued holds
            queued_by_priority = CASE
                WHEN is_queued THEN jsonb_set(queued_by_priority, ARRAY[NEW.priority::text],
                    to_jsonb(coalesce((queued_by_priority ->> NEW.priority::text)::int, 0) + 1))
                ELSE jsonb_set(queued_by_priority, ARRAY[OLD.priority::text],
                    to_jsonb(coalesce((queued_by_priority ->> OLD.priority::text)::int, 0) - 1))
                END,
            queued = queued + is_queued::int - was_queued::int,
            expected_seconds = expected_seconds
                + CASE WHEN is_queued THEN NEW.expected_seconds ELSE 0 END
                - CASE WHEN was_queued THEN OLD.expected_seconds ELSE 0 END
        WHERE group_key = NEW.group_key AND org_id = NEW.org_id;
        -- The lane row is locked now (the update above), so the statements below (each with
        -- a fresh snapshot) see every other transaction's committed change to this lane.
        IF is_queued THEN
            UPDATE job_lanes SET head_id = NEW.id, head_priority = NEW.priority,
                                 head_created_at = NEW.created_at
            WHERE group_key = NEW.group_key AND org_id = NEW.org_id
              AND (head_id IS NULL OR NEW.priority > head_priority
                   OR (NEW.priority = head_priority AND (NEW.created_at < head_created_at
                       OR (NEW.created_at = head_created_at AND NEW.id < head_id))));
            UPDATE job_lanes SET oldest_created_at = NEW.created_at
            WHERE group_key = NEW.group_key AND org_id = NEW.org_id
              AND (oldest_created_at IS NULL OR NEW.created_at < oldest_created_at);
        ELSE
            UPDATE job_lanes SET (head_id, head_priority, head_created_at) = (
                SELECT j.id, j.priority, j.created_at FROM jobs j
                WHERE j.group_key = OLD.group_key AND j.org_id = OLD.org_id
                  AND j.state = 'queued'
                ORDER BY j.priority DESC, j.created_at, j.id LIMIT 1)
            WHERE group_key = OLD.group_key AND org_id = OLD.org_id AND head_id = OLD.id;
            UPDATE job_lanes SET oldest_created_at = (
                SELECT min(j.created_at) FROM jobs j
                WHERE j.group_key = OLD.group_key AND j.org_id = OLD.org_id
                  AND j.state = 'queued')
            WHERE group_key = OLD.group_key AND org_id = OLD.org_id
              AND oldest_created_at = OLD.created_at;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

ALTER TABLE job_lanes DROP COLUMN queued_p1, DROP COLUMN queued_p2, DROP COLUMN queued_p3,
    DROP COLUMN queued_p4, DROP COLUMN queued_p5;
