-- Submits count their jobs in per lane and group themselves, once per batch, and tell the
-- replicas once per (target, build) with the number of jobs (see qgjob/store/sql/submits.py):
-- the per-row insert triggers go. A job queued again (retry, hand-back, rescue) still notifies
-- from its row; its payload carries the job id so that one transaction's notifications stay
-- distinct (PostgreSQL folds identical ones): "target<TAB>build<TAB>1<TAB>job id".
DROP TRIGGER jobs_count_insert ON jobs;
DROP TRIGGER jobs_notify_insert ON jobs;

CREATE OR REPLACE FUNCTION qgjob_notify_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('qgjob_work_' || current_schema(),
                      NEW.target || E'\t' || NEW.app_version_id || E'\t1\t' || NEW.id);
    RETURN NULL;
END
$$;
