-- reap_claim.lua: take the in-flight entries whose lease ran out, for one reaper.
--
-- Each entry taken gets a new score (the reaper's own short lease), so a second reaper running
-- at the same moment does not see it, and a reaper that dies before it is done leaves the entry
-- to be taken again once that lease ends too.
--
-- KEYS[1]  the in-flight registry (sorted set: RQ id -> Unix time its lease ends)
-- ARGV[1]  now (Unix seconds)
-- ARGV[2]  the reaper's lease end (Unix seconds)
-- ARGV[3]  the most entries to take
--
-- Returns the RQ ids taken.

local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, rq_id in ipairs(due) do
	redis.call('ZADD', KEYS[1], ARGV[2], rq_id)
end
return due
