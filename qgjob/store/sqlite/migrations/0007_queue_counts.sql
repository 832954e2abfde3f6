-- Queue counts come from the lanes' counters and the few jobs in leases, running or backing
-- off (see queue_counts): the index of every active job by group, which only that query
-- read, goes. Each submitted job was written into it, and each finished one removed.
DROP INDEX jobs_active_group;
