-- Named queries of the PostgreSQL store: the SQLite store's names, in PostgreSQL's dialect.
-- Reads that a write transaction goes on to change lock their rows (FOR UPDATE), in one order
-- (a job, then its device, then its lease); claims skip jobs another claim holds.

-- name: insert_job
INSERT INTO jobs (
    id, org_id, app_version_id, test_path, target, priority, group_key, state,
    max_attempts, expected_seconds, idempotency_key, created_at, updated_at, run_id
) VALUES (
    %(job_id)s, %(org_id)s, %(app_version_id)s, %(test_path)s, %(target)s, %(priority)s, %(group_key)s, 'queued',
    %(max_attempts)s, %(expected_seconds)s, %(idempotency_key)s, %(created_at)s, %(created_at)s,
    %(run_id)s
)
ON CONFLICT (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;

-- name: jobs_by_idempotency_keys
-- The jobs earlier submits of one org made under any of these keys (one index probe each).
SELECT * FROM jobs WHERE org_id = %(org_id)s AND idempotency_key = ANY(%(keys)s::text[]);

-- name: test_durations_of
-- What is known of these tests on one target (one primary-key probe each).
SELECT test_path, target, mean_seconds FROM test_durations
WHERE org_id = %(org_id)s AND target = %(target)s AND test_path = ANY(%(test_paths)s::text[]);

-- name: test_durations_elsewhere_of
-- What is known of these tests on the org's other targets (a primary-key probe per target
-- and test: the targets are the few of target_durations).
SELECT t.test_path, t.mean_seconds
FROM target_durations d
JOIN test_durations t ON t.org_id = %(org_id)s AND t.target = d.target
                     AND t.test_path = ANY(%(test_paths)s::text[])
WHERE d.target <> %(target)s
ORDER BY t.test_path, d.target;

-- name: add_queued_to_group
-- A submit's jobs of one group: the group's row (made on its first job) and its queue count.
INSERT INTO job_groups (group_key, target, app_version_id, org_id, queued, created_at,
                        updated_at, submitted_at)
VALUES (%(group_key)s, %(target)s, %(app_version_id)s, %(org_id)s, %(count)s, %(created_at)s,
        %(now)s, %(now)s)
ON CONFLICT (group_key) DO UPDATE SET
    queued = job_groups.queued + EXCLUDED.queued,
    updated_at = greatest(job_groups.updated_at, EXCLUDED.updated_at),
    submitted_at = greatest(job_groups.submitted_at, EXCLUDED.submitted_at);

-- name: add_queued_to_lane
-- A submit's jobs of one lane: its counts (per priority, a jsonb object from priority to
-- count, added key by key), expected work, head, oldest and newest job.
INSERT INTO job_lanes (group_key, org_id, target, app_version_id, queued_by_priority, queued,
                       expected_seconds, head_id, head_priority, head_created_at,
                       oldest_created_at, newest_created_at)
VALUES (%(group_key)s, %(org_id)s, %(target)s, %(app_version_id)s,
        %(queued_by_priority)s::jsonb, %(queued)s, %(expected_seconds)s, %(head_id)s,
        %(head_priority)s, %(head_created_at)s, %(oldest_created_at)s, %(newest_created_at)s)
ON CONFLICT (group_key, org_id) DO UPDATE SET
    queued_by_priority = (
        SELECT jsonb_object_agg(key, total)
        FROM (SELECT key, sum(value::int) AS total
              FROM (SELECT key, value FROM jsonb_each_text(job_lanes.queued_by_priority)
                    UNION ALL
                    SELECT key, value FROM jsonb_each_text(EXCLUDED.queued_by_priority)) AS added
              GROUP BY key) AS summed),
    queued = job_lanes.queued + EXCLUDED.queued,
    expected_seconds = job_lanes.expected_seconds + EXCLUDED.expected_seconds,
    -- the lane's head stays unless the batch's comes first in claim order
    (head_id, head_priority, head_created_at) = (
        SELECT id, priority, created_at
        FROM (SELECT EXCLUDED.head_id AS id, EXCLUDED.head_priority AS priority,
                     EXCLUDED.head_created_at AS created_at
              UNION ALL
              SELECT job_lanes.head_id, job_lanes.head_priority, job_lanes.head_created_at) AS heads
        WHERE id IS NOT NULL
        ORDER BY {claim_order}
        LIMIT 1),
    oldest_created_at = least(job_lanes.oldest_created_at, EXCLUDED.oldest_created_at),
    newest_created_at = greatest(job_lanes.newest_created_at, EXCLUDED.newest_created_at);

-- name: work_queued
-- Tell every replica (their listeners) that `count` jobs of this build were queued.
SELECT pg_notify('qgjob_work_' || current_schema(),
                 %(target)s || E'\t' || %(app_version_id)s || E'\t' || %(count)s) AS told;

-- name: job_by_id
SELECT * FROM jobs WHERE id = %(job_id)s;

-- name: lock_job
SELECT * FROM jobs WHERE id = %(job_id)s FOR UPDATE;

-- name: update_job
-- Writes every mutable column of a job; the new values come from the pure core.
UPDATE jobs SET
    state = %(state)s,
    attempts = %(attempts)s,
    infra_failures = %(infra_failures)s,
    lease_id = %(lease_id)s,
    agent_name = %(agent_name)s,
    device_id = %(device_id)s,
    last_device_id = %(last_device_id)s,
    cancel_requested = %(cancel_requested)s,
    preemptions = %(preemptions)s,
    preempt_requested = %(preempt_requested)s,
    flaky = %(flaky)s,
    error = %(error)s,
    updated_at = %(updated_at)s,
    started_at = %(started_at)s,
    finished_at = %(finished_at)s,
    retry_at = %(retry_at)s
WHERE id = %(job_id)s;

-- name: ready_lanes
-- The lanes of one target with queued jobs: what the scheduling policy sees (one row per
-- lane; the lane's head, oldest and newest job are kept in it).
SELECT l.*, l.head_created_at AS head_submitted_at, l.oldest_created_at AS oldest_submitted_at,
       l.newest_created_at AS newest_submitted_at
FROM job_lanes l
WHERE l.target = %(target)s AND l.queued > 0;

-- name: queued_lane_seconds
-- The same lanes' expected work only: what another target's drain needs, once submits pause.
SELECT group_key, org_id, expected_seconds FROM job_lanes
WHERE target = %(target)s AND queued > 0;

-- name: working_leases
-- What the other devices of a target hold: each live lease (a device's batch) with its jobs
-- still assigned or running, to count devices per group and org and price their work (with
-- what is known of each test now, which may be more than when the job was priced), and
-- since when a device still installs the batch's app (none of its jobs started yet).
SELECT l.id AS lease_id, l.group_key, l.org_id, j.app_version_id, j.id AS job_id, j.state,
       j.expected_seconds, a.started_at, td.mean_seconds AS learned_seconds,
       CASE WHEN d.state = 'installing' AND l.jobs_started = 0 THEN l.created_at END
           AS installing_since
FROM leases l JOIN jobs j ON j.lease_id = l.id
LEFT JOIN devices d ON d.id = l.device_id
LEFT JOIN attempts a ON a.job_id = j.id AND a.attempt = j.attempts AND j.state = 'running'
LEFT JOIN test_durations td
       ON td.org_id = j.org_id AND td.target = j.target AND td.test_path = j.test_path
WHERE l.target = %(target)s AND l.expires_at > %(now)s AND l.device_id <> %(device_id)s
  AND j.state IN ('assigned', 'running');

-- name: retries_due
-- When each app's next failed job on a target comes back from its retry backoff.
SELECT app_version_id, min(retry_at) AS retry_at FROM jobs
WHERE state = 'retry_wait' AND target = %(target)s
GROUP BY app_version_id;

-- name: targets_with_queued_work
SELECT DISTINCT target FROM job_lanes WHERE queued > 0 ORDER BY target;

-- name: last_submit
-- When the newest job was submitted (index jobs_newest): submits have paused when that is a
-- while ago, and the policy then weighs which target drains last.
SELECT max(created_at) AS at FROM jobs;

-- name: builds_submitted_since
-- Groups (builds on a target) with a job submitted at or after :since, counted up to :limit:
-- many at once are a batch, not a stream. It reads at most :limit entries of the groups'
-- newest-submit index (job_groups_submitted).
SELECT count(*) AS n FROM (SELECT 1 FROM job_groups WHERE submitted_at >= %(since)s
                           LIMIT %(limit)s) AS recent;

-- name: builds_submitted_between
-- The target's groups whose newest job was submitted from :start to :end, counted up to
-- :limit: whether a target's oldest queued work came in a batch. It reads at most :limit
-- entries of the index job_groups_target_submitted.
SELECT count(*) AS n FROM (SELECT 1 FROM job_groups
                           WHERE target = %(target)s AND submitted_at >= %(start)s
                             AND submitted_at <= %(end)s
                           LIMIT %(limit)s) AS around;

-- name: builds_since
-- Each group (a build on a target) with a job submitted at or after :since, the newest :limit:
-- its target and how many jobs it has. It reads at most :limit entries of the groups'
-- newest-submit index (job_groups_submitted).
SELECT target, queued + assigned + running + retry_wait + completed + failed + cancelled AS jobs
FROM job_groups WHERE submitted_at >= %(since)s
ORDER BY submitted_at DESC, group_key LIMIT %(limit)s;

-- name: installs_since
-- Installs that ended at or after :since, on any target (installs_finished).
SELECT count(*) AS n FROM installs WHERE finished_at >= %(since)s AND ok = 1;

-- name: count_target_devices
SELECT count(*) AS online, count(*) FILTER (WHERE d.state = 'idle') AS idle
FROM devices d JOIN agents a ON a.id = d.agent_id
WHERE d.target = %(target)s AND a.state = 'online'
  AND d.disabled_reason IS NULL
  AND NOT EXISTS (SELECT 1 FROM agent_drains r WHERE r.name = d.agent_name);

-- name: idle_holds
SELECT DISTINCT d.holds_app_version_id FROM devices d JOIN agents a ON a.id = d.agent_id
WHERE d.target = %(target)s AND d.state = 'idle' AND a.state = 'online'
  AND d.id != %(device_id)s AND d.holds_app_version_id IS NOT NULL
  AND d.disabled_reason IS NULL
  AND NOT EXISTS (SELECT 1 FROM agent_drains r WHERE r.name = d.agent_name);

-- name: recent_install_seconds
SELECT avg(finished_at - started_at) AS seconds FROM (
    SELECT finished_at, started_at FROM installs
    WHERE target = %(target)s AND ok = 1 ORDER BY id DESC LIMIT 20
) AS recent;

-- name: lane_candidates
SELECT id, priority, created_at, expected_seconds, attempts, last_device_id FROM jobs
WHERE group_key = %(group_key)s AND org_id = %(org_id)s AND state = 'queued'
ORDER BY {claim_order}
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- name: assign_jobs
UPDATE jobs SET
    state = 'assigned', lease_id = %(lease_id)s, agent_name = %(agent_name)s,
    device_id = %(device_id)s, updated_at = %(now)s
WHERE id = ANY(%(job_ids)s::text[]) AND state = 'queued'
RETURNING *;

-- name: insert_lease
INSERT INTO leases (id, agent_id, device_id, group_key, org_id, target, created_at, expires_at)
VALUES (%(lease_id)s, %(agent_id)s, %(device_id)s, %(group_key)s, %(org_id)s, %(target)s, %(now)s, %(expires_at)s);

-- name: lease_by_id
SELECT * FROM leases WHERE id = %(lease_id)s;

-- name: count_lease_start
UPDATE leases SET jobs_started = jobs_started + 1 WHERE id = %(lease_id)s;

-- name: expire_device_leases
-- A device that asks for work has nothing left of its earlier batches; whatever they still
-- hold is rescued by the next maintenance pass.
UPDATE leases SET expires_at = %(now)s WHERE device_id = %(device_id)s AND expires_at > %(now)s;

-- name: device_by_id
SELECT d.*, (SELECT since FROM agent_drains r WHERE r.name = d.agent_name) AS draining_since
FROM devices d WHERE d.id = %(device_id)s;

-- name: device_of_agent
-- A device of a session that has not ended: one taken over (replaced) or signed off gets
-- nothing more (RegisterAgain). A session marked offline for its silence still may. The
-- key-share lock on the session does not wait for heartbeats, but a sign-off (which locks
-- its row FOR UPDATE) waits for the claims under way, and a claim that overlaps a sign-off
-- waits for it and then reads the session as signed off: no batch after a sign-off.
SELECT d.*, (SELECT since FROM agent_drains r WHERE r.name = d.agent_name) AS draining_since
FROM devices d JOIN agents a ON a.id = d.agent_id
WHERE d.agent_id = %(agent_id)s AND d.name = %(device_name)s
  AND a.state NOT IN ('replaced', 'signed_off')
FOR KEY SHARE OF a;

-- name: update_device
-- A heartbeat writes a device only when what it reports changed: its agent's row says when it
-- was last heard from. Rewriting 10,000 unchanged rows a few times a minute would bloat the
-- table faster than it is vacuumed, and every claim scans its target's devices.
UPDATE devices SET
    state = %(state)s, holds_app_version_id = %(holds_app_version_id)s,
    current_job_id = %(current_job_id)s, last_seen_at = %(now)s
WHERE agent_id = %(agent_id)s AND name = %(device_name)s
  AND (state IS DISTINCT FROM %(state)s
       OR holds_app_version_id IS DISTINCT FROM %(holds_app_version_id)s
       OR current_job_id IS DISTINCT FROM %(current_job_id)s);

-- name: jobs_held_by_agent
-- Which of the jobs a heartbeat's devices report running this agent holds under its leases.
SELECT j.id AS id FROM jobs j JOIN leases l ON l.id = j.lease_id
WHERE l.agent_id = %(agent_id)s AND j.id = ANY(%(job_ids)s::text[]);

-- name: set_device_state
-- What the claim path knows of a device: asking for work (idle), or installing its batch's app.
UPDATE devices SET state = %(state)s, holds_app_version_id = %(holds_app_version_id)s,
    current_job_id = NULL, last_seen_at = %(now)s
WHERE id = %(device_id)s;

-- name: device_running
-- A device that runs a job holds its app.
UPDATE devices SET state = 'running', current_job_id = %(job_id)s,
    holds_app_version_id = %(app_version_id)s, last_seen_at = %(now)s
WHERE id = %(device_id)s;

-- name: device_done
UPDATE devices SET state = 'idle', current_job_id = NULL, last_seen_at = %(now)s
WHERE id = %(device_id)s AND current_job_id = %(job_id)s;

-- name: insert_attempt
INSERT INTO attempts (job_id, attempt, device_id, agent_name, started_at)
VALUES (%(job_id)s, %(attempt)s, %(device_id)s, %(agent_name)s, %(now)s);

-- name: finish_attempt
UPDATE attempts SET finished_at = %(now)s, outcome = %(outcome)s, error = %(error)s
WHERE job_id = %(job_id)s AND attempt = %(attempt)s AND finished_at IS NULL;

-- name: attempt_by_number
SELECT * FROM attempts WHERE job_id = %(job_id)s AND attempt = %(attempt)s;

-- name: attempts_of_job
SELECT * FROM attempts WHERE job_id = %(job_id)s ORDER BY attempt;

-- name: runs_between
-- Attempts that overlap [since, until] on any device, newest first, with what the timeline
-- colours them by.
SELECT a.*, j.app_version_id, j.target, j.test_path, j.org_id
FROM attempts a JOIN jobs j ON j.id = a.job_id
WHERE (a.finished_at >= %(since)s OR a.finished_at IS NULL) AND a.started_at <= %(until)s
ORDER BY a.started_at DESC
LIMIT %(limit)s;

-- name: assigned_jobs_of_lease
SELECT * FROM jobs WHERE lease_id = %(lease_id)s AND state = 'assigned' ORDER BY id FOR UPDATE;

-- name: active_jobs_of_lease
SELECT * FROM jobs WHERE lease_id = %(lease_id)s AND state IN ('assigned', 'running')
ORDER BY id FOR UPDATE;

-- name: expired_leases
SELECT * FROM leases WHERE expires_at <= %(now)s ORDER BY expires_at LIMIT %(limit)s;

-- name: delete_lease
DELETE FROM leases WHERE id = %(lease_id)s;

-- name: extend_all_leases
-- After a restart: agents kept working while the server was down; give them one lease term
-- to reconnect and heartbeat before their batches count as lost. Not when some agent was heard
-- from lately: then another replica served them, and their leases are current.
UPDATE leases SET expires_at = %(expires_at)s
WHERE expires_at < %(expires_at)s
  AND NOT EXISTS (SELECT 1 FROM agents WHERE state = 'online'
                  AND last_seen_at > %(quiet_since)s);

-- name: delete_lease_if_done
-- A batch's lease ends when its last job leaves it.
DELETE FROM leases
WHERE id = %(lease_id)s
  AND NOT EXISTS (SELECT 1 FROM jobs WHERE lease_id = %(lease_id)s
                  AND state IN ('assigned', 'running'));

-- name: promote_due_retries
UPDATE jobs SET state = 'queued', retry_at = NULL, updated_at = %(now)s
WHERE id IN (
    SELECT id FROM jobs WHERE state = 'retry_wait' AND retry_at <= %(now)s
    ORDER BY retry_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: agent_by_id
SELECT * FROM agents WHERE id = %(agent_id)s;

-- name: lock_agent_name
-- One registration of a name at a time, until its transaction ends: the check of who holds
-- the name and the take-over happen as one, also for a name no session has had yet (no row
-- to lock).
SELECT pg_advisory_xact_lock(hashtext('qgjob_agent_name'), hashtext(%(name)s));

-- name: replace_agents_named
-- A take-over ends every earlier session of the name. FOR UPDATE, which an UPDATE alone does
-- not take, waits for their claims under way (device_of_agent's key-share lock), and a claim
-- that overlaps the take-over waits for it and then reads its session as replaced: no batch
-- for a session taken over, as for one signed off.
WITH ended AS (
    SELECT id FROM agents WHERE name = %(name)s AND state <> 'replaced' ORDER BY id FOR UPDATE
)
UPDATE agents SET state = 'replaced' FROM ended WHERE agents.id = ended.id;

-- name: insert_agent
INSERT INTO agents (id, name, version, executor, state, registered_at, last_seen_at)
VALUES (%(agent_id)s, %(name)s, %(version)s, %(executor)s, 'online', %(now)s, %(now)s);

-- name: upsert_device
INSERT INTO devices (
    id, agent_id, agent_name, name, target, state, holds_app_version_id, current_job_id,
    last_seen_at
) VALUES (
    %(device_id)s, %(agent_id)s, %(agent_name)s, %(name)s, %(target)s, 'idle', %(holds_app_version_id)s, NULL, %(now)s
)
ON CONFLICT (id) DO UPDATE SET
    agent_id = excluded.agent_id, target = excluded.target, state = 'idle',
    holds_app_version_id = excluded.holds_app_version_id, current_job_id = NULL,
    last_seen_at = excluded.last_seen_at;

-- name: expire_leases_of_devices_named
-- A restarted agent holds none of its previous run's batches.
UPDATE leases SET expires_at = %(now)s
WHERE agent_id <> %(agent_id)s AND expires_at > %(now)s
  AND device_id IN (SELECT id FROM devices WHERE agent_name = %(agent_name)s);

-- name: devices_of_agent
SELECT * FROM devices WHERE agent_id = %(agent_id)s ORDER BY name;

-- name: delete_devices_not_in
DELETE FROM devices
WHERE agent_name = %(agent_name)s
  AND id <> ALL(%(device_ids)s::text[]);

-- name: touch_agent
-- A heartbeat brings back a session marked offline for its silence, not one that ended.
UPDATE agents SET last_seen_at = %(now)s, state = 'online'
WHERE id = %(agent_id)s AND state NOT IN ('replaced', 'signed_off');

-- name: extend_leases
UPDATE leases SET expires_at = %(expires_at)s
WHERE agent_id = %(agent_id)s AND expires_at > %(now)s
  AND id = ANY(%(lease_ids)s::text[]);

-- name: cancel_requested_jobs_of_agent
SELECT j.id AS id FROM jobs j JOIN leases l ON l.id = j.lease_id
WHERE l.agent_id = %(agent_id)s AND j.cancel_requested = 1 AND j.state = 'running';

-- name: preempt_requested_jobs_of_agent
SELECT j.id AS id FROM jobs j JOIN leases l ON l.id = j.lease_id
WHERE l.agent_id = %(agent_id)s AND j.preempt_requested = 1 AND j.cancel_requested = 0
  AND j.state = 'running';

-- name: running_jobs_of_target
SELECT id, device_id, group_key, priority, started_at FROM jobs
WHERE target = %(target)s AND state = 'running'
ORDER BY started_at DESC;

-- name: request_preemption
UPDATE jobs SET preempt_requested = 1, updated_at = %(now)s
WHERE id = %(job_id)s AND state = 'running' AND preempt_requested = 0;

-- name: listed_agents
SELECT * FROM agents WHERE state <> 'replaced' ORDER BY name;

-- name: listed_devices
SELECT d.* FROM devices d JOIN agents a ON a.id = d.agent_id
WHERE a.state <> 'replaced' ORDER BY d.agent_name, d.name;

-- name: mark_agents_offline
UPDATE agents SET state = 'offline'
WHERE state = 'online' AND last_seen_at < %(seen_before)s
RETURNING id;

-- name: sign_off_agent
-- The agent stopped: its name is free for another process at once, and the session has
-- ended (listed as offline): it claims nothing more and a heartbeat does not bring it back.
-- Its leases are left to run out (it signs off once its work is handed back). FOR UPDATE,
-- which an UPDATE alone does not take, waits for the claims under way (device_of_agent).
WITH ended AS (
    SELECT id FROM agents WHERE id = %(agent_id)s FOR UPDATE
)
UPDATE agents SET state = 'signed_off'
FROM ended WHERE agents.id = ended.id AND agents.state IN ('online', 'offline');

-- name: mark_devices_offline
-- An offline agent's devices show no job: nobody hears what they run, and their leases lapse
-- unless the agent comes back (its next heartbeat says again what they run).
UPDATE devices SET state = 'offline', current_job_id = NULL
WHERE agent_id = ANY(%(agent_ids)s::text[]);

-- name: insert_install
INSERT INTO installs (device_id, app_version_id, target, started_at, finished_at, ok)
VALUES (%(device_id)s, %(app_version_id)s, %(target)s, %(started_at)s, %(finished_at)s, %(ok)s);

-- name: installs_between
SELECT * FROM installs
WHERE finished_at >= %(since)s AND started_at <= %(until)s
ORDER BY finished_at DESC
LIMIT %(limit)s;

-- name: change_marker
-- Moves whenever a job changes state, a run is cancelled, a device reports, an install ends
-- or an agent comes or goes: what a live view polls (cheaply, through indexes) to know it
-- should look again.
SELECT
    (SELECT max(updated_at) FROM job_groups) AS jobs_changed_at,
    (SELECT max(cancelled_at) FROM runs WHERE cancelled_at IS NOT NULL) AS runs_cancelled_at,
    (SELECT max(id) FROM installs) AS last_install,
    (SELECT max(last_seen_at) FROM devices) AS devices_seen_at,
    (SELECT count(*) FROM devices) AS devices,
    (SELECT count(*) FROM agents WHERE state = 'online') AS agents_online;

-- name: active_groups
SELECT * FROM job_groups
WHERE queued + assigned + running + retry_wait > 0
ORDER BY created_at, group_key LIMIT %(limit)s;

-- name: all_groups
SELECT * FROM job_groups ORDER BY created_at, group_key LIMIT %(limit)s;

-- name: job_state_counts
-- Jobs in each stored state, from the per-group counters (never a scan of the jobs).
SELECT coalesce(sum(queued), 0) AS queued, coalesce(sum(assigned), 0) AS assigned,
       coalesce(sum(running), 0) AS running, coalesce(sum(retry_wait), 0) AS retry_wait,
       coalesce(sum(completed), 0) AS completed, coalesce(sum(failed), 0) AS failed,
       coalesce(sum(cancelled), 0) AS cancelled
FROM job_groups;

-- name: active_job_ids_of_group
SELECT id FROM jobs
WHERE group_key = %(group_key)s AND state IN ('queued', 'assigned', 'running', 'retry_wait')
ORDER BY created_at, id LIMIT %(limit)s;

-- name: job_ids_of_group
SELECT id FROM jobs WHERE group_key = %(group_key)s ORDER BY created_at, id LIMIT %(limit)s;

-- name: test_duration
SELECT samples, mean_seconds, priced_seconds FROM test_durations
WHERE org_id = %(org_id)s AND target = %(target)s AND test_path = %(test_path)s;

-- name: target_duration
SELECT samples, total_seconds, priced_seconds FROM target_durations
WHERE target = %(target)s;

-- name: save_test_duration
INSERT INTO test_durations (org_id, test_path, target, samples, mean_seconds,
                            priced_seconds)
VALUES (%(org_id)s, %(test_path)s, %(target)s, %(samples)s, %(mean_seconds)s,
        %(priced_seconds)s)
ON CONFLICT (org_id, target, test_path) DO UPDATE SET
    samples = excluded.samples, mean_seconds = excluded.mean_seconds,
    priced_seconds = excluded.priced_seconds;

-- name: save_target_duration
INSERT INTO target_durations (target, samples, total_seconds, priced_seconds)
VALUES (%(target)s, %(samples)s, %(total_seconds)s, %(priced_seconds)s)
ON CONFLICT (target) DO UPDATE SET
    samples = excluded.samples, total_seconds = excluded.total_seconds,
    priced_seconds = excluded.priced_seconds;

-- name: reprice_queued_test
-- Jobs a claim holds are leaving the queue: skip them rather than wait.
UPDATE jobs SET expected_seconds = %(seconds)s
WHERE id IN (SELECT id FROM jobs
             WHERE org_id = %(org_id)s AND test_path = %(test_path)s AND target = %(target)s
               AND state = 'queued'
             FOR UPDATE SKIP LOCKED);

-- name: reprice_unseen_tests
-- Queued jobs of tests their org never ran on any target (priced with their target's prior),
-- priced below the new price. Jobs a claim holds are leaving the queue: skip them.
UPDATE jobs SET expected_seconds = %(seconds)s
WHERE id IN (SELECT j.id FROM jobs j
             WHERE j.target = %(target)s AND j.state = 'queued'
               AND j.expected_seconds < %(seconds)s
               AND NOT EXISTS (SELECT 1 FROM test_durations t
                               WHERE t.org_id = j.org_id AND t.test_path = j.test_path)
             FOR UPDATE OF j SKIP LOCKED);

-- name: queue_counts
-- Jobs waiting (queued, in a batch not started yet, or backing off before a retry) and
-- running, per priority, target and org. Queued jobs are counted from their lanes' counters;
-- the others are few (at most a batch per device), so this never reads the queue itself.
SELECT priority, target, org_id, sum(queued) AS queued, sum(running) AS running
FROM (
    SELECT c.key::int AS priority, l.target, l.org_id, c.value::int AS queued, 0 AS running
    FROM job_lanes l CROSS JOIN LATERAL jsonb_each_text(l.queued_by_priority) AS c
    WHERE l.queued > 0
    UNION ALL
    SELECT j.priority, j.target, j.org_id, 1, 0
    FROM leases l JOIN jobs j ON j.lease_id = l.id AND j.state = 'assigned'
    UNION ALL
    SELECT priority, target, org_id, 0, 1 FROM jobs WHERE state = 'running'
    UNION ALL
    SELECT priority, target, org_id, 1, 0 FROM jobs WHERE state = 'retry_wait'
) AS counted
GROUP BY priority, target, org_id
HAVING sum(queued) > 0 OR sum(running) > 0
ORDER BY priority DESC, target, org_id;

-- name: queued_jobs_of_org
-- The jobs an org has waiting in line, from its lanes' counters (only lanes with queued work,
-- through their index): what the per-org cap on queued jobs weighs a submission against.
SELECT coalesce(sum(queued), 0) AS queued FROM job_lanes WHERE queued > 0 AND org_id = %(org_id)s;

-- name: jobs_ahead_in_lane
-- The queued jobs of a job's lane that a claim takes before it (the claim order of
-- qgjob/domain/queue_order.py), counted on the index the claims read.
SELECT count(*) AS ahead FROM jobs
WHERE group_key = %(group_key)s AND org_id = %(org_id)s AND state = 'queued'
  AND (priority > %(priority)s
       OR (priority = %(priority)s AND (created_at < %(created_at)s
           OR (created_at = %(created_at)s AND id < %(job_id)s))));

-- name: append_output
-- Keep the last %(max)s characters of an attempt's output.
UPDATE attempts SET
    output_dropped = output_dropped
        + greatest(length(output) + length(%(text)s) - %(max)s, 0),
    output = right(output || %(text)s, %(max)s)
WHERE job_id = %(job_id)s AND attempt = %(attempt)s AND finished_at IS NULL;

-- name: append_output_at
-- Append what %(text)s holds past the attempt's output so far (it starts %(offset)s
-- characters in), keeping the last %(max)s characters: a chunk sent again is kept once. (A
-- chunk is far shorter than a million characters, so the clamp only keeps the cast in range.)
UPDATE attempts SET
    output_dropped = output_dropped + greatest(length(output)
        + length(substr(%(text)s::text,
            least(1 + greatest(output_dropped + length(output) - %(offset)s, 0), 1000000)::int))
        - %(max)s, 0),
    output = right(output
        || substr(%(text)s::text,
            least(1 + greatest(output_dropped + length(output) - %(offset)s, 0), 1000000)::int),
        %(max)s)
WHERE job_id = %(job_id)s AND attempt = %(attempt)s AND finished_at IS NULL;

-- name: attempt_output
SELECT attempt, output, output_dropped, finished_at FROM attempts
WHERE job_id = %(job_id)s AND attempt = %(attempt)s;

-- name: output_end
-- Characters of the attempt's output received so far (dropped from the front or held).
SELECT output_dropped + length(output) AS held FROM attempts
WHERE job_id = %(job_id)s AND attempt = %(attempt)s;

-- name: last_attempt_number
SELECT max(attempt) AS attempt FROM attempts WHERE job_id = %(job_id)s;

-- name: save_attempt_details
UPDATE attempts SET details = %(details)s WHERE job_id = %(job_id)s AND attempt = %(attempt)s;

-- name: last_attempt_details
SELECT details FROM attempts
WHERE job_id = %(job_id)s AND details IS NOT NULL
ORDER BY attempt DESC LIMIT 1;

-- name: save_attempt_file
INSERT INTO attempt_files (job_id, attempt, name, media_type, content)
VALUES (%(job_id)s, %(attempt)s, %(name)s, %(media_type)s, %(content)s)
ON CONFLICT (job_id, attempt, name) DO UPDATE SET
    media_type = excluded.media_type, content = excluded.content;

-- name: attempt_files
SELECT attempt, name, media_type, octet_length(content) AS size FROM attempt_files
WHERE job_id = %(job_id)s ORDER BY attempt, name;

-- name: attempt_file
SELECT media_type, content FROM attempt_files
WHERE job_id = %(job_id)s AND attempt = %(attempt)s AND name = %(name)s;

-- API tokens ---------------------------------------------------------------------------------
-- name: insert_token
INSERT INTO api_tokens (id, org_id, role, secret_sha256, created_at)
VALUES (%(token_id)s, %(org_id)s, %(role)s, %(secret_digest)s, %(created_at)s);

-- name: token_by_id
SELECT * FROM api_tokens WHERE id = %(token_id)s;

-- name: all_tokens
SELECT * FROM api_tokens ORDER BY created_at, id;

-- name: revoke_token
UPDATE api_tokens SET revoked_at = %(now)s WHERE id = %(token_id)s AND revoked_at IS NULL;

-- name: count_active_tokens
SELECT count(*) AS tokens FROM api_tokens WHERE revoked_at IS NULL;

-- name: touch_token
UPDATE api_tokens SET last_used_at = %(now)s WHERE id = %(token_id)s;

-- name: set_agent_token
UPDATE agents SET token_id = %(token_id)s WHERE id = %(agent_id)s;

-- name: agent_token
SELECT id, name, token_id FROM agents WHERE id = %(agent_id)s;

-- name: online_agent_token
SELECT id, name, token_id, last_seen_at FROM agents
WHERE name = %(name)s AND state = 'online'
ORDER BY registered_at DESC LIMIT 1;

-- A submitter's view of the groups ------------------------------------------------------------

-- name: active_groups_of_org
SELECT * FROM job_groups g
WHERE queued + assigned + running + retry_wait > 0
  AND EXISTS (SELECT 1 FROM jobs j WHERE j.org_id = %(org_id)s AND j.group_key = g.group_key
              AND j.state IN ('queued', 'assigned', 'running', 'retry_wait'))
ORDER BY created_at, group_key LIMIT %(limit)s;

-- name: all_groups_of_org
SELECT * FROM job_groups g
WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.org_id = %(org_id)s AND j.group_key = g.group_key)
ORDER BY created_at, group_key LIMIT %(limit)s;

-- name: org_jobs_of_group
SELECT id, state FROM jobs
WHERE org_id = %(org_id)s AND group_key = %(group_key)s
  AND (%(active_only)s = 0 OR state IN ('queued', 'assigned', 'running', 'retry_wait'))
ORDER BY created_at, id;

-- Test health (qgjob/store/sql/health.py) --------------------------------------------------

-- name: count_test_build
-- A test's passes and failures on one build, counted as its runs are recorded.
INSERT INTO test_builds (org_id, target, test_path, title, app_version_id, passed, failed,
                         first_at, last_at)
VALUES (%(org_id)s, %(target)s, %(test_path)s, %(title)s, %(app_version_id)s, %(passed)s, %(failed)s, %(now)s, %(now)s)
ON CONFLICT (org_id, target, test_path, title, app_version_id) DO UPDATE SET
    passed = test_builds.passed + excluded.passed,
    failed = test_builds.failed + excluded.failed,
    last_at = greatest(test_builds.last_at, excluded.last_at);

-- name: recent_test_builds
-- The test's most recent builds, newest first: what its flaky score is taken over.
SELECT passed, failed FROM test_builds
WHERE org_id = %(org_id)s AND target = %(target)s AND test_path = %(test_path)s AND title = %(title)s
ORDER BY last_at DESC LIMIT %(limit)s;

-- name: test_summary
-- Locked: two attempts of one test finishing at once must not both fold into the same
-- summary (SQLite's write transaction holds the database already).
SELECT * FROM test_health
WHERE org_id = %(org_id)s AND target = %(target)s AND test_path = %(test_path)s
  AND title = %(title)s
FOR UPDATE;

-- name: save_test_summary
INSERT INTO test_health (org_id, target, test_path, title, runs, passed, failed, recent,
    recent_seconds, pass_rate, p50_seconds, p95_seconds, trend, builds, flaky_builds,
    flaky_score, first_seen, last_seen, last_outcome, last_app_version_id, last_failure_at,
    last_error, last_failure_app_version_id, last_failure_job_id)
VALUES (%(org_id)s, %(target)s, %(test_path)s, %(title)s, %(runs)s, %(passed)s, %(failed)s, %(recent)s,
    %(recent_seconds)s, %(pass_rate)s, %(p50_seconds)s, %(p95_seconds)s, %(trend)s, %(builds)s, %(flaky_builds)s,
    %(flaky_score)s, %(first_seen)s, %(last_seen)s, %(last_outcome)s, %(last_app_version_id)s,
    %(last_failure_at)s, %(last_error)s, %(last_failure_app_version_id)s, %(last_failure_job_id)s)
ON CONFLICT (org_id, target, test_path, title) DO UPDATE SET
    runs = excluded.runs, passed = excluded.passed, failed = excluded.failed,
    recent = excluded.recent, recent_seconds = excluded.recent_seconds,
    pass_rate = excluded.pass_rate, p50_seconds = excluded.p50_seconds,
    p95_seconds = excluded.p95_seconds, trend = excluded.trend, builds = excluded.builds,
    flaky_builds = excluded.flaky_builds, flaky_score = excluded.flaky_score,
    first_seen = excluded.first_seen, last_seen = excluded.last_seen,
    last_outcome = excluded.last_outcome, last_app_version_id = excluded.last_app_version_id,
    last_failure_at = excluded.last_failure_at, last_error = excluded.last_error,
    last_failure_app_version_id = excluded.last_failure_app_version_id,
    last_failure_job_id = excluded.last_failure_job_id;

-- name: failures_on_build
-- Earlier failed attempts of the job's test on its build, any job's (jobs_test_build).
SELECT a.job_id, a.attempt, a.device_id, a.error
FROM jobs j
JOIN jobs o ON o.org_id = j.org_id AND o.test_path = j.test_path AND o.target = j.target
           AND o.app_version_id = j.app_version_id
JOIN attempts a ON a.job_id = o.id
WHERE j.id = %(job_id)s AND a.outcome = 'failed'
ORDER BY a.finished_at DESC LIMIT %(limit)s;

-- name: test_on_build
-- Whether the job's test passed on its build before, and its flaky score.
SELECT b.passed AS passed_on_build, h.flaky_score, h.flaky_builds
FROM jobs j
LEFT JOIN test_builds b ON b.org_id = j.org_id AND b.target = j.target
    AND b.test_path = j.test_path AND b.title = '' AND b.app_version_id = j.app_version_id
LEFT JOIN test_health h ON h.org_id = j.org_id AND h.target = j.target
    AND h.test_path = j.test_path AND h.title = ''
WHERE j.id = %(job_id)s;

-- name: note_attempt
UPDATE attempts SET note = %(note)s WHERE job_id = %(job_id)s AND attempt = %(attempt)s;

-- name: prune_test_builds
DELETE FROM test_builds WHERE last_at < %(before)s;

-- name: prune_test_health
DELETE FROM test_health WHERE last_seen < %(before)s;

-- name: quarantine_test
INSERT INTO quarantined_tests (org_id, test_path, reason, added_by, added_at)
VALUES (%(org_id)s, %(test_path)s, %(reason)s, %(added_by)s, %(now)s)
ON CONFLICT (org_id, test_path) DO NOTHING;

-- name: requarantine_test
UPDATE quarantined_tests SET reason = %(reason)s
WHERE org_id = %(org_id)s AND test_path = %(test_path)s;

-- name: unquarantine_test
DELETE FROM quarantined_tests WHERE org_id = %(org_id)s AND test_path = %(test_path)s;

-- name: quarantined_test
SELECT * FROM quarantined_tests WHERE org_id = %(org_id)s AND test_path = %(test_path)s;

-- name: quarantined_tests_of_org
SELECT * FROM quarantined_tests WHERE org_id = %(org_id)s ORDER BY test_path;

-- name: all_quarantined_tests
SELECT * FROM quarantined_tests ORDER BY org_id, test_path LIMIT %(limit)s;

-- Per-org statistics (qgjob/store/sql/health.py) -----------------------------------------

-- name: count_org_attempt
INSERT INTO org_hours (org_id, epoch_hour, attempts, device_seconds)
VALUES (%(org_id)s, %(epoch_hour)s, 1, %(seconds)s)
ON CONFLICT (org_id, epoch_hour) DO UPDATE SET
    attempts = org_hours.attempts + 1,
    device_seconds = org_hours.device_seconds + excluded.device_seconds;

-- name: count_org_job
INSERT INTO org_hours (org_id, epoch_hour, completed, failed, cancelled, flaky)
VALUES (%(org_id)s, %(epoch_hour)s, %(completed)s, %(failed)s, %(cancelled)s, %(flaky)s)
ON CONFLICT (org_id, epoch_hour) DO UPDATE SET
    completed = org_hours.completed + excluded.completed,
    failed = org_hours.failed + excluded.failed,
    cancelled = org_hours.cancelled + excluded.cancelled,
    flaky = org_hours.flaky + excluded.flaky;

-- name: count_org_wait
INSERT INTO org_waits (org_id, epoch_hour, bucket, jobs)
VALUES (%(org_id)s, %(epoch_hour)s, %(bucket)s, 1)
ON CONFLICT (org_id, epoch_hour, bucket) DO UPDATE SET jobs = org_waits.jobs + 1;

-- name: org_totals
SELECT org_id, SUM(completed) AS completed, SUM(failed) AS failed,
       SUM(cancelled) AS cancelled, SUM(flaky) AS flaky, SUM(attempts) AS attempts,
       SUM(device_seconds) AS device_seconds
FROM org_hours WHERE org_id = %(org_id)s AND epoch_hour >= %(since)s GROUP BY org_id;

-- name: every_org_totals
SELECT org_id, SUM(completed) AS completed, SUM(failed) AS failed,
       SUM(cancelled) AS cancelled, SUM(flaky) AS flaky, SUM(attempts) AS attempts,
       SUM(device_seconds) AS device_seconds
FROM org_hours WHERE epoch_hour >= %(since)s GROUP BY org_id ORDER BY org_id;

-- name: org_wait_buckets
SELECT org_id, bucket, SUM(jobs) AS jobs FROM org_waits
WHERE org_id = %(org_id)s AND epoch_hour >= %(since)s GROUP BY org_id, bucket;

-- name: every_org_wait_buckets
SELECT org_id, bucket, SUM(jobs) AS jobs FROM org_waits
WHERE epoch_hour >= %(since)s GROUP BY org_id, bucket;

-- name: prune_org_hours
DELETE FROM org_hours WHERE epoch_hour < %(before)s;

-- name: prune_org_waits
DELETE FROM org_waits WHERE epoch_hour < %(before)s;

-- name: roll_up_org_hours
-- Hours before %(before)s (a day's first hour) folded into their day's first hour, so a long
-- window sums days, not hours; recent hours stay as they are.
INSERT INTO org_hours (org_id, epoch_hour, completed, failed, cancelled, flaky, attempts,
                       device_seconds)
SELECT org_id, epoch_hour - epoch_hour %% 24, SUM(completed), SUM(failed), SUM(cancelled),
       SUM(flaky), SUM(attempts), SUM(device_seconds)
FROM org_hours WHERE epoch_hour < %(before)s AND epoch_hour %% 24 <> 0
GROUP BY org_id, epoch_hour - epoch_hour %% 24
ON CONFLICT (org_id, epoch_hour) DO UPDATE SET
    completed = org_hours.completed + excluded.completed,
    failed = org_hours.failed + excluded.failed,
    cancelled = org_hours.cancelled + excluded.cancelled,
    flaky = org_hours.flaky + excluded.flaky,
    attempts = org_hours.attempts + excluded.attempts,
    device_seconds = org_hours.device_seconds + excluded.device_seconds;

-- name: drop_rolled_up_org_hours
DELETE FROM org_hours WHERE epoch_hour < %(before)s AND epoch_hour %% 24 <> 0;

-- name: roll_up_org_waits
INSERT INTO org_waits (org_id, epoch_hour, bucket, jobs)
SELECT org_id, epoch_hour - epoch_hour %% 24, bucket, SUM(jobs)
FROM org_waits WHERE epoch_hour < %(before)s AND epoch_hour %% 24 <> 0
GROUP BY org_id, epoch_hour - epoch_hour %% 24, bucket
ON CONFLICT (org_id, epoch_hour, bucket) DO UPDATE SET jobs = org_waits.jobs + excluded.jobs;

-- name: drop_rolled_up_org_waits
DELETE FROM org_waits WHERE epoch_hour < %(before)s AND epoch_hour %% 24 <> 0;

-- fleet operations ---------------------------------------------------------------------------

-- name: drain_agent
-- Drained by name: a restarted agent process stays drained until undrained.
INSERT INTO agent_drains (name, since) VALUES (%(name)s, %(now)s)
ON CONFLICT (name) DO NOTHING;

-- name: undrain_agent
DELETE FROM agent_drains WHERE name = %(name)s;

-- name: agent_drains
SELECT name, since FROM agent_drains;

-- name: sessions_named
SELECT * FROM agents WHERE name = %(name)s AND state <> 'replaced'
ORDER BY registered_at DESC;

-- name: assigned_jobs_of_agent_named
-- The jobs an agent's batches hold but have not started: a drain hands them back.
SELECT j.id, j.lease_id FROM leases l JOIN jobs j ON j.lease_id = l.id
WHERE l.agent_id IN (SELECT id FROM agents WHERE name = %(name)s) AND j.state = 'assigned'
ORDER BY j.lease_id, j.id;

-- name: forget_agent
-- Its sessions leave every listing; attempts and installs keep their history. Locked as a
-- take-over locks them (replace_agents_named): a claim under way is waited for.
WITH ended AS (
    SELECT id FROM agents WHERE name = %(name)s AND state <> 'replaced' ORDER BY id FOR UPDATE
)
UPDATE agents SET state = 'replaced' FROM ended WHERE agents.id = ended.id;

-- name: delete_devices_named
DELETE FROM devices WHERE agent_name = %(name)s;

-- name: device_failed
-- A failed install or a lost attempt; a successful install or a passed attempt resets it.
UPDATE devices SET failure_streak = failure_streak + 1 WHERE id = %(device_id)s
RETURNING failure_streak, disabled_reason;

-- name: build_installed_before
SELECT 1 AS ok FROM installs
WHERE app_version_id = %(app_version_id)s AND target = %(target)s AND ok = 1
LIMIT 1;

-- name: device_succeeded
UPDATE devices SET failure_streak = 0 WHERE id = %(device_id)s AND failure_streak > 0;

-- name: disable_device
UPDATE devices SET disabled_reason = %(reason)s, disabled_at = %(now)s
WHERE id = %(device_id)s AND disabled_reason IS NULL;

-- name: enable_device
UPDATE devices SET disabled_reason = NULL, disabled_at = NULL, failure_streak = 0
WHERE id = %(device_id)s;

-- name: count_device_time
-- Each online device's seconds since it was last counted (a new one: since its agent
-- registered), as the timeline records them: busy while an attempt ran (a running one until
-- now), installing while an install ran, idle the rest. An install under way has no record
-- until it ends: it runs since its batch's lease was made (the claim that started it), after
-- the device's last record. The idle seconds of a device that is idle and in rotation now,
-- while its target has queued work, are also "idle while work waited". A step is capped at
-- `max_step`, so time the server did not watch (it was down) is not counted, and the records
-- are read through their finished_at indexes over that span only. A count by a replica whose
-- clock is behind the last one adds nothing and leaves the mark where it was. A device row
-- another transaction holds (a heartbeat, a claim) is skipped, its seconds counted at the
-- next pass: waiting for it would hold every other device's lock meanwhile, and every
-- heartbeat would queue behind.
WITH counted AS MATERIALIZED (
    SELECT d.id, d.state,
           LEAST(GREATEST(COALESCE(d.counted_at, a.registered_at),
                          %(now)s::float8 - %(max_step)s::float8), %(now)s::float8) AS since,
           d.state = 'idle' AND d.disabled_reason IS NULL
           AND NOT EXISTS (SELECT 1 FROM agent_drains r WHERE r.name = d.agent_name)
           AND EXISTS (SELECT 1 FROM job_lanes l WHERE l.target = d.target AND l.queued > 0)
           AS waited
    FROM devices d JOIN agents a ON a.id = d.agent_id
    WHERE a.state = 'online' ORDER BY d.id FOR UPDATE OF d SKIP LOCKED
),
records AS (
    SELECT device_id, started_at,
           LEAST(COALESCE(finished_at, %(now)s::float8), %(now)s::float8) AS ended_at,
           true AS ran
    FROM attempts
    WHERE finished_at >= %(now)s::float8 - %(max_step)s::float8 OR finished_at IS NULL
    UNION ALL
    SELECT device_id, started_at, LEAST(finished_at, %(now)s::float8) AS ended_at, false AS ran
    FROM installs WHERE finished_at >= %(now)s::float8 - %(max_step)s::float8
),
recorded AS (
    SELECT c.id,
           sum(CASE WHEN r.ran THEN GREATEST(0, r.ended_at - GREATEST(r.started_at, c.since))
                    ELSE 0 END) AS busy,
           sum(CASE WHEN NOT r.ran THEN GREATEST(0, r.ended_at - GREATEST(r.started_at, c.since))
                    ELSE 0 END) AS installed,
           max(r.ended_at) AS last_ended_at
    FROM counted c JOIN records r ON r.device_id = c.id
    WHERE r.ended_at > c.since
    GROUP BY c.id
),
installing AS (
    SELECT l.device_id, max(l.created_at) AS since
    FROM counted c JOIN leases l ON l.device_id = c.id
    WHERE c.state = 'installing' AND l.jobs_started = 0
    GROUP BY l.device_id
),
spent AS (
    SELECT c.id, c.waited, %(now)s::float8 - c.since AS step,
           LEAST(COALESCE(r.busy, 0), %(now)s::float8 - c.since) AS busy,
           COALESCE(r.installed, 0)
           + CASE WHEN i.since IS NULL THEN 0
                  ELSE GREATEST(0, %(now)s::float8 - GREATEST(i.since, c.since,
                                                              r.last_ended_at)) END
           AS installing
    FROM counted c
    LEFT JOIN recorded r ON r.id = c.id
    LEFT JOIN installing i ON i.device_id = c.id
)
UPDATE devices SET
    busy_seconds = busy_seconds + s.busy,
    installing_seconds = installing_seconds + s.installing,
    idle_seconds = idle_seconds + s.step - s.busy - s.installing,
    idle_waiting_seconds = idle_waiting_seconds
                           + CASE WHEN s.waited THEN s.step - s.busy - s.installing ELSE 0 END,
    counted_at = GREATEST(counted_at, %(now)s::float8)
FROM (SELECT id, waited, step, busy, LEAST(installing, step - busy) AS installing
      FROM spent) AS s
WHERE devices.id = s.id;

-- name: trace_jobs
SELECT id, org_id, app_version_id, test_path, target, priority, created_at, state
FROM jobs WHERE created_at >= %(since)s ORDER BY created_at, id;

-- name: trace_attempts
SELECT a.job_id, a.attempt, a.device_id, a.started_at, a.finished_at, a.outcome
FROM attempts a JOIN jobs j ON j.id = a.job_id
WHERE j.created_at >= %(since)s
ORDER BY a.job_id, a.attempt;

-- name: trace_install_seconds
SELECT target, avg(finished_at - started_at) AS seconds FROM installs
WHERE ok = 1 AND finished_at >= %(since)s
GROUP BY target ORDER BY target;

-- Runs (qgjob/store/sql/runs.py): what they were given is stored; their status and counts
-- are read from their jobs.

-- name: insert_run
INSERT INTO runs (id, org_id, app_version_id, name, repository, workflow, ci_run_id,
                  ci_run_attempt, commit_sha, branch, pull_request, url, rerun_of, attempt,
                  idempotency_key, created_at)
VALUES (%(run_id)s, %(org_id)s, %(app_version_id)s, %(name)s, %(repository)s, %(workflow)s,
        %(ci_run_id)s, %(ci_run_attempt)s, %(commit_sha)s, %(branch)s, %(pull_request)s,
        %(url)s, %(rerun_of)s, %(attempt)s, %(idempotency_key)s, %(created_at)s)
ON CONFLICT (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING;

-- name: run_by_id
SELECT * FROM runs WHERE id = %(run_id)s;

-- name: lock_run
-- A submit into the run and the run's cancel both lock it first: one waits for the other.
-- NO KEY: the two still exclude each other, but the key share lock a foreign key check takes
-- (a re-run inserted with `rerun_of` naming this run) does not wait for either.
SELECT * FROM runs WHERE id = %(run_id)s FOR NO KEY UPDATE;

-- name: mark_run_cancelled
-- The first cancel's time is kept.
UPDATE runs SET cancelled_at = coalesce(cancelled_at, %(now)s) WHERE id = %(run_id)s;

-- name: run_by_idempotency_key
SELECT * FROM runs WHERE org_id = %(org_id)s AND idempotency_key = %(idempotency_key)s;

-- name: run_job_counts
-- Each run's jobs per target and outcome (one probe of jobs_run per run).
SELECT run_id, target, state, flaky, count(*) AS jobs, max(finished_at) AS finished_at
FROM jobs WHERE run_id = ANY(%(run_ids)s::text[])
GROUP BY run_id, target, state, flaky;

-- name: jobs_of_run
SELECT * FROM jobs WHERE run_id = %(run_id)s ORDER BY test_path, id;

-- name: run_attempt_details
-- The per-test results of every attempt of the run's jobs, oldest first per job.
SELECT a.job_id, a.details FROM jobs j JOIN attempts a ON a.job_id = j.id
WHERE j.run_id = %(run_id)s AND a.details IS NOT NULL
ORDER BY a.job_id, a.attempt;

-- name: active_job_ids_of_run
SELECT id FROM jobs
WHERE run_id = %(run_id)s AND state IN ('queued', 'assigned', 'running', 'retry_wait')
ORDER BY id;
