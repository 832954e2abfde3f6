-- What a target's queued jobs of tests never run anywhere were last priced with: when the
-- target's prior (the mean of every test seen there) moves by more than a quarter from it,
-- those jobs are re-priced. NULL: they still carry the default guess.
ALTER TABLE target_durations ADD COLUMN priced_seconds REAL;
