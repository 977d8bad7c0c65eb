-- claim.lua: claim a unique key and write and queue the job that holds it, in one atomic step.
--
-- Either the key is free: the job's hash is written, the key set to the job's id and the id
-- pushed onto its queue; or the key is held: nothing is written. So a job never exists without
-- its key, nor a key without its job.
--
-- KEYS[1]  the unique key (value: the holder's RQ job id)
-- KEYS[2]  the new job's hash, rq:job:<id>
-- KEYS[3]  where the job waits: the queue list rq:queue:<name>, or for a delayed job RQ's
--          scheduled registry rq:scheduled:<name> (a sorted set scored by due time)
-- KEYS[4]  the set of queues, rq:queues
-- KEYS[5]  the queue list (added to KEYS[4], as RQ does)
-- ARGV[1]  packed (see packed.lua): first the call's arguments, then the new job's hash
--   1  the new job's RQ id (the owner token); KEYS[2] is the RQ job hash prefix and this id, and
--      the holder's hash is read through that prefix, which a Redis Cluster would refuse (Frappe
--      and RQ use a single Redis server)
--   2  the key's TTL in milliseconds
--   3  "back" or "front" of the queue list, or the due time (Unix seconds) of a delayed job
--   4  "1" when a held key may be healed: its holder's hash is gone, or the holder ended
--   5  "claim"; "replace": a holder still waiting in KEYS[3] takes the new job's 'data' and
--      'description' fields (its arguments), keeping its place; or "handover:<token>": a key
--      held by <token> passes to the new job (a retry's next attempt)
--   6… the new job's hash: what RQ's Job.save writes, but its empty fields, which RQ reads as
--      absent
--
-- Returns {1, token} when claimed and queued; {0, holder} when another job holds the key;
-- {2, holder} when the holder's arguments were replaced.

-- The common case first: a free key is taken in the same call that finds it free.
local packed = unpacked(ARGV[1])
local token, ttl, placement, heal, mode = packed[1], packed[2], packed[3], packed[4], packed[5]
local taken = redis.call('SET', KEYS[1], token, 'PX', ttl, 'NX')
local holder = false
if not taken then
	holder = redis.call('GET', KEYS[1])
end
if holder and string.sub(mode, 1, 9) == 'handover:' and holder == string.sub(mode, 10) then
	holder = false
end
local prefix = string.sub(KEYS[2], 1, #KEYS[2] - #token)
if holder and heal == '1' then
	local status = redis.call('HGET', prefix .. holder, 'status')
	if (not status) or status == 'finished' or status == 'failed' or status == 'stopped'
		or status == 'canceled' then
		holder = false
	end
end

if holder then
	local scheduled = placement ~= 'back' and placement ~= 'front'
	local waiting
	if scheduled then
		waiting = redis.call('ZSCORE', KEYS[3], holder)
	else
		waiting = redis.call('LPOS', KEYS[3], holder)
	end
	if mode == 'replace' and waiting then
		local holder_key = prefix .. holder
		for i = 6, #packed - 1, 2 do
			if packed[i] == 'data' or packed[i] == 'description' then
				redis.call('HSET', holder_key, packed[i], packed[i + 1])
			end
		end
		redis.call('PEXPIRE', KEYS[1], ttl)
		return {2, holder}
	end
	return {0, holder}
end

redis.call('HSET', KEYS[2], unpack(packed, 6))
if not taken then  -- a holder healed, or handed over: the key passes to the new job now
	redis.call('SET', KEYS[1], token, 'PX', ttl)
end
redis.call('SADD', KEYS[4], KEYS[5])
if placement == 'front' then
	redis.call('LPUSH', KEYS[3], token)
elseif placement == 'back' then
	redis.call('RPUSH', KEYS[3], token)
else
	redis.call('ZADD', KEYS[3], placement, token)
end
return {1, token}
