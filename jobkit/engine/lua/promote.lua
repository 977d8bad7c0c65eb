-- promote.lua: move due delayed jobs from RQ's scheduled registry onto their queue, atomically.
--
-- Removing an id from the registry and pushing it happen in one step, so any number of
-- promoters (one per host, a cron hook, a long-running process) never push a job twice.
--
-- KEYS[1]  the scheduled registry, rq:scheduled:<queue> (score: due time, Unix seconds)
-- KEYS[2]  the queue list, rq:queue:<queue>
-- KEYS[3]  the set of queues, rq:queues
-- ARGV[1]  now, Unix seconds: ids scored at or before it are due
-- ARGV[2]  the most ids to move in this call
-- ARGV[3]  the RQ job hash prefix ("rq:job:"); job hashes are written through it (single Redis only)
-- ARGV[4]  the enqueued_at stamp to record, in RQ's format
--
-- Returns {due ids taken from the registry, jobs pushed, the ids dropped}: an id whose job hash is
-- gone (the job deleted, or evicted by a Redis short of memory) is dropped, and named, so that
-- the caller reports it.

local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local pushed = 0
local dropped = {}
for _, id in ipairs(ids) do
	redis.call('ZREM', KEYS[1], id)
	local key = ARGV[3] .. id
	if redis.call('EXISTS', key) == 1 then
		redis.call('HSET', key, 'status', 'queued', 'enqueued_at', ARGV[4])
		redis.call('RPUSH', KEYS[2], id)
		pushed = pushed + 1
	else
		dropped[#dropped + 1] = id
	end
end
if pushed > 0 then
	redis.call('SADD', KEYS[3], KEYS[2])
end
return {#ids, pushed, dropped}
