-- Each target's prior remembers what queued jobs of tests never run were last raised to
-- (`durations.unseen_reprice`); NULL until then: the default they were priced with.
ALTER TABLE target_durations ADD COLUMN priced_seconds DOUBLE PRECISION;
