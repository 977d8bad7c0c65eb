-- gate_tick.lua: one pass of the gates' timer (see gate_common.lua):
--   1. gated jobs due in the gates' schedule go through their gates (let in, or waiting);
--   2. jobs that waited past their bound ('jobkit_wait_until') leave their gate's list, are marked
--      failed, and are named in their namespace's expired list, for the host to record;
--   3. gates whose wake time came (a rate window moved on, or held entries are due for review) have
--      their entries reviewed and their waiting jobs let in.
--
-- ARGV[1]  the enqueued_at stamp for the jobs let in, in RQ's format
-- ARGV[2]  the most entries of each kind handled in this pass
--
-- Returns {promoted, expired, let in, seconds until the next thing is due (-1: nothing is)}.

local stamp, limit = ARGV[1], tonumber(ARGV[2])
local t = now()

local promoted = 0
for _, rq_id in ipairs(redis.call('ZRANGEBYSCORE', LATER, '-inf', t, 'LIMIT', 0, limit)) do
	redis.call('ZREM', LATER, rq_id)
	local status = redis.call('HGET', JOB .. rq_id, 'status')
	local gates = gates_of(rq_id)
	if status == 'scheduled' and gates then
		admit(rq_id, gates, t, stamp, false)
		promoted = promoted + 1
	end
end

local expired = 0
for _, rq_id in ipairs(redis.call('ZRANGEBYSCORE', DEADLINES, '-inf', t, 'LIMIT', 0, limit)) do
	redis.call('ZREM', DEADLINES, rq_id)
	local job = JOB .. rq_id
	local fields = redis.call('HMGET', job, 'status', 'jobkit_waiting_on', 'jobkit_ns')
	if fields[1] == 'deferred' and fields[2] and fields[3] then
		redis.call('LREM', GATE .. fields[2] .. ':waiting', 1, rq_id)
		redis.call('HSET', job, 'status', 'failed')
		redis.call('RPUSH', 'jobkit:' .. fields[3] .. ':gates:expired', rq_id)
		expired = expired + 1
	end
end

local let = 0
for _, gate_id in ipairs(redis.call('ZRANGEBYSCORE', WAKE, '-inf', t, 'LIMIT', 0, limit)) do
	review(gate_id, t, limit)
	let = let + let_waiters_in(gate_id, t, stamp, limit)
end

local next_at = -1
for _, key in ipairs({LATER, DEADLINES, WAKE}) do
	local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
	if first[2] then
		local wait = math.max(0, tonumber(first[2]) - t)
		if next_at < 0 or wait < next_at then
			next_at = wait
		end
	end
end
return {promoted, expired, let, tostring(next_at)}
