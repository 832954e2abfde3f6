-- Reading history: the dashboard's device timeline reads the attempts and installs that ended
-- within a window (or still run), and its live view asks every second whether anything moved.

CREATE INDEX attempts_finished ON attempts (finished_at);
CREATE INDEX installs_finished ON installs (finished_at);
CREATE INDEX job_groups_updated ON job_groups (updated_at);
