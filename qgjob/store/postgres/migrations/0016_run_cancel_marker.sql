-- A run's cancel moves the change marker live views poll: a running job is only asked to
-- stop, which changes no job's state, so without the run's `cancelled_at` an open page would
-- not show the cancel until that job stopped. The marker reads the latest cancel here.
CREATE INDEX runs_cancelled ON runs (cancelled_at) WHERE cancelled_at IS NOT NULL;
