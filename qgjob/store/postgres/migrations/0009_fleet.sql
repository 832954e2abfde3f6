-- Fleet operations: agents drained by name (they finish what they run and take no new work,
-- across restarts, until undrained); devices taken out of rotation after repeated failures
-- (or kept out by hand) with the reason; and the seconds each device spent in each state,
-- counted by the maintenance pass, for utilisation.

CREATE TABLE agent_drains (
    name   TEXT PRIMARY KEY,
    since  DOUBLE PRECISION NOT NULL
);

-- Whether a build ever installed: a failed install counts against a device only then (else the
-- build may be what is broken, and it would take every device out).
CREATE INDEX installs_build_ok ON installs (app_version_id, target) WHERE ok = 1;

ALTER TABLE devices ADD COLUMN failure_streak INTEGER NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN disabled_reason TEXT;
ALTER TABLE devices ADD COLUMN disabled_at DOUBLE PRECISION;
ALTER TABLE devices ADD COLUMN busy_seconds DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN installing_seconds DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN idle_seconds DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN idle_waiting_seconds DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE devices ADD COLUMN counted_at DOUBLE PRECISION;
