-- gate_common.lua, sent before the gate scripts (gate_push, gate_admit, gate_start, gate_release,
-- gate_tick): the local functions of flow control (see jobkit/engine/limits/gates.py).
--
-- A gated job carries its gates in its RQ hash ('jobkit_gates': JSON, a list of
-- [gate id, n, period, workers key]). A gate id is "<kind>:<namespace>:<key>": kind c (at most n
-- runs at once), r (at most n starts in any `period` seconds) or f (a site's fair share of a queue:
-- n per worker listening to it). Under "jobkit:gate:<id>":
--   :held     sorted set, RQ id -> review time: jobs let in and not yet ended (c, f), or let in and
--             not yet started (r);
--   :starts   sorted set, RQ id -> start time (r only), the starts in the last `period`;
--   :waiting  list of RQ ids, oldest first: jobs that wait for this gate, in no RQ queue.
-- Every decision reads the Redis server's clock, so that hosts whose clocks differ agree.
-- RQ's key prefixes are RQ's own (checked by the engine's tests). Single Redis only, as RQ.

local GATE = 'jobkit:gate:'
local GATES = 'jobkit:gates'
local WAKE = 'jobkit:gates:wake'
local DEADLINES = 'jobkit:gates:deadlines'
local LATER = 'jobkit:gates:later'
local JOB = 'rq:job:'
local QUEUE = 'rq:queue:'
local QUEUES = 'rq:queues'
-- A held entry is looked at again after this long (REVIEW_SECONDS in limits/gates.py).
local REVIEW = 60
-- A start counts for this much longer than its period: it covers the moments between the gate's
-- start and the job's first line, so that no window measured by the job holds more than n starts.
local MARGIN = 0.05

local function now()
	local t = redis.call('TIME')
	return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function kind(gate)
	return string.sub(gate[1], 1, 1)
end

local function capacity(gate)
	local n = tonumber(gate[2])
	if kind(gate) == 'f' then
		n = n * math.max(1, redis.call('SCARD', gate[4]))
	end
	return n
end

-- How many of the gate's places are taken now; for a rate gate also when its oldest start in the
-- window stops counting.
local function used(gate, t)
	local id = gate[1]
	local taken = redis.call('ZCARD', GATE .. id .. ':held')
	if kind(gate) ~= 'r' then
		return taken, nil
	end
	local starts = GATE .. id .. ':starts'
	local period = tonumber(gate[3]) + MARGIN
	redis.call('ZREMRANGEBYSCORE', starts, '-inf', t - period)
	local oldest = redis.call('ZRANGE', starts, 0, 0, 'WITHSCORES')
	local frees = nil
	if oldest[2] then
		frees = tonumber(oldest[2]) + period
	end
	return taken + redis.call('ZCARD', starts), frees
end

local function is_open(gate, t)
	local taken, frees = used(gate, t)
	return taken < capacity(gate), frees
end

local function gates_of(rq_id)
	local text = redis.call('HGET', JOB .. rq_id, 'jobkit_gates')
	if not text then
		return nil
	end
	return cjson.decode(text)
end

-- The first of `gates` that is closed now, or nil when every one is open.
local function closed_gate(gates, t)
	for _, gate in ipairs(gates) do
		if not is_open(gate, t) then
			return gate
		end
	end
	return nil
end

local function push_to_queue(rq_id, at_front, stamp)
	local job = JOB .. rq_id
	local queue = QUEUE .. redis.call('HGET', job, 'origin')
	redis.call('HSET', job, 'status', 'queued', 'enqueued_at', stamp)
	redis.call('HDEL', job, 'jobkit_waiting_on')
	redis.call('SADD', QUEUES, queue)
	if at_front then
		redis.call('LPUSH', queue, rq_id)
	else
		redis.call('RPUSH', queue, rq_id)
	end
	redis.call('ZREM', DEADLINES, rq_id)
end

-- When a closed gate is to be looked at again: as its rate window moves on (`frees`), as one of its
-- held entries is due for review (it may free a place), and at the latest after REVIEW.
local function wake_time(gate_id, t, frees)
	local wake = t + REVIEW
	if frees and frees < wake then
		wake = frees
	end
	local soonest = redis.call('ZRANGE', GATE .. gate_id .. ':held', 0, 0, 'WITHSCORES')
	if soonest[2] and tonumber(soonest[2]) < wake then
		wake = tonumber(soonest[2])
	end
	return wake
end

-- Let the job in: a place on each of its gates, and onto its queue.
local function let_in(rq_id, gates, t, at_front, stamp)
	for _, gate in ipairs(gates) do
		redis.call('ZADD', GATE .. gate[1] .. ':held', t + REVIEW, rq_id)
	end
	push_to_queue(rq_id, at_front, stamp)
end

-- The job waits on `gate`: in its list (at the front when it had waited already), in no queue.
local function wait_on(rq_id, gate, t, at_front)
	local job = JOB .. rq_id
	local waiting = GATE .. gate[1] .. ':waiting'
	redis.call('HSET', job, 'status', 'deferred', 'jobkit_waiting_on', gate[1])
	redis.call('HSETNX', job, 'jobkit_waiting_since', t)
	if at_front then
		redis.call('LPUSH', waiting, rq_id)
	else
		redis.call('RPUSH', waiting, rq_id)
	end
	local _, frees = used(gate, t)
	local wake = wake_time(gate[1], t, frees)
	local scheduled = redis.call('ZSCORE', WAKE, gate[1])
	if not scheduled or wake < tonumber(scheduled) then
		redis.call('ZADD', WAKE, wake, gate[1])
	end
	local deadline = redis.call('HGET', job, 'jobkit_wait_until')
	if deadline then
		redis.call('ZADD', DEADLINES, deadline, rq_id)
	end
end

-- Let the job in if all its gates are open, else make it wait on the first closed one. Returns
-- 1 when let in, 0 when waiting.
local function admit(rq_id, gates, t, stamp, waited)
	local gate = closed_gate(gates, t)
	if gate then
		wait_on(rq_id, gate, t, waited)
		return 0
	end
	let_in(rq_id, gates, t, false, stamp)
	return 1
end

-- Look at the held entries of `gate` due for review: an entry stays while its job is queued (or
-- taken by a worker), scheduled, started or in flight; it goes when its job ended, was deleted or
-- was stopped without the runner releasing it (a Redis error at its end).
local function review(gate_id, t, limit)
	local held = GATE .. gate_id .. ':held'
	local due = redis.call('ZRANGEBYSCORE', held, '-inf', t, 'LIMIT', 0, limit)
	local freed = 0
	for _, rq_id in ipairs(due) do
		local job = redis.call('HMGET', JOB .. rq_id, 'status', 'jobkit_ns')
		local status = job[1]
		local keep = status == 'queued' or status == 'started' or status == 'scheduled'
		if not keep and job[2] then
			keep = redis.call('ZSCORE', 'jobkit:' .. job[2] .. ':in-flight', rq_id) ~= false
		end
		if keep then
			redis.call('ZADD', held, t + REVIEW, rq_id)
		else
			redis.call('ZREM', held, rq_id)
			freed = freed + 1
		end
	end
	return freed
end

-- Let in the jobs waiting on `gate_id` while the gate is open (at most `limit`): a job closed out
-- by another of its gates moves to that gate's list, at its front. Sets or clears the gate's wake.
local function let_waiters_in(gate_id, t, stamp, limit)
	local waiting = GATE .. gate_id .. ':waiting'
	local let = 0
	for _ = 1, limit do
		local head = redis.call('LINDEX', waiting, 0)
		if not head then
			redis.call('ZREM', WAKE, gate_id)
			return let
		end
		local status = redis.call('HGET', JOB .. head, 'status')
		local gates = gates_of(head)
		if status ~= 'deferred' or not gates then
			redis.call('LPOP', waiting)  -- cancelled, deleted or expired while it waited
		else
			local this = nil
			for _, gate in ipairs(gates) do
				if gate[1] == gate_id then
					this = gate
				end
			end
			local open, frees = is_open(this or gates[1], t)
			if not open then
				redis.call('ZADD', WAKE, wake_time(gate_id, t, frees), gate_id)
				return let
			end
			redis.call('LPOP', waiting)
			if admit(head, gates, t, stamp, true) == 1 then
				let = let + 1
			end
		end
	end
	redis.call('ZADD', WAKE, t, gate_id)  -- more may fit: the next pass goes on
	return let
end
