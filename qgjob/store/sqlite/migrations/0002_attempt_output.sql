-- What an attempt leaves behind: its output (the last 1 MiB; `output_dropped` counts the
-- characters dropped from the front), its per-test results (JSON), and report files.

ALTER TABLE attempts ADD COLUMN output TEXT NOT NULL DEFAULT '';
ALTER TABLE attempts ADD COLUMN output_dropped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN details TEXT;

CREATE TABLE attempt_files (
    job_id      TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    name        TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    content     BLOB NOT NULL,
    PRIMARY KEY (job_id, attempt, name),
    FOREIGN KEY (job_id, attempt) REFERENCES attempts (job_id, attempt)
);
