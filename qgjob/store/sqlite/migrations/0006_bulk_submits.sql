-- Submits count their jobs in per lane and group themselves, once per batch (see
-- qgjob/store/sql/submits.py): the per-row insert triggers go. State changes keep theirs.
DROP TRIGGER jobs_count_insert;
DROP TRIGGER jobs_lane_enter_insert;
