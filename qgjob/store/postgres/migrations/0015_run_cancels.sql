-- A run remembers when it was cancelled (`cancel_run`; the first cancel's time): from then on
-- it takes no new jobs. Its status is still read from its jobs, and a running job only stops
-- at its agent's next report, so the jobs alone could not tell a cancelled run from one
-- still running, nor from one where a single job was cancelled on its own.
-- Runs stored before were judged cancelled by their jobs (none unfinished, some cancelled):
-- those get the time their last cancelled job finished, so they stay refused as before.
ALTER TABLE runs ADD COLUMN cancelled_at DOUBLE PRECISION;
UPDATE runs SET cancelled_at = (
    SELECT max(coalesce(j.finished_at, runs.created_at)) FROM jobs j
    WHERE j.run_id = runs.id AND j.state = 'cancelled')
WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = runs.id AND j.state = 'cancelled')
  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.run_id = runs.id
                  AND j.state IN ('queued', 'assigned', 'running', 'retry_wait'));
