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
-- ARGV[1]  the new job's RQ id (the owner token)
-- ARGV[2]  the key's TTL in milliseconds
-- ARGV[3]  "back" or "front" of the queue list, or the due time (Unix seconds) of a delayed job
-- ARGV[4]  "1" when a held key may be healed: its holder's hash is gone, or the holder ended
-- ARGV[5]  the RQ job hash prefix ("rq:job:"); the holder's hash is read through it, which a
--          Redis Cluster would refuse (Frappe and RQ use a single Redis server)
-- ARGV[6]  "claim"; "replace": a holder still waiting in KEYS[3] takes the new job's
--          'data' and 'description' fields (its arguments), keeping its place; or
--          "handover:<token>": a key held by <token> passes to the new job (a retry's next attempt)
-- ARGV[7]  the new job's hash (see job_hash.lua): what RQ's Job.save writes, but its empty fields,
--          which RQ reads as absent
--
-- Returns {1, token} when claimed and queued; {0, holder} when another job holds the key;
-- {2, holder} when the holder's arguments were replaced.

-- The common case first: a free key is taken in the same call that finds it free.
local taken = redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX')
local holder = false
if not taken then
	holder = redis.call('GET', KEYS[1])
end
if holder and string.sub(ARGV[6], 1, 9) == 'handover:' and holder == string.sub(ARGV[6], 10) then
	holder = false
end
if holder and ARGV[4] == '1' then
	local status = redis.call('HGET', ARGV[5] .. holder, 'status')
	if (not status) or status == 'finished' or status == 'failed' or status == 'stopped'
		or status == 'canceled' then
		holder = false
	end
end

if holder then
	local scheduled = ARGV[3] ~= 'back' and ARGV[3] ~= 'front'
	local waiting
	if scheduled then
		waiting = redis.call('ZSCORE', KEYS[3], holder)
	else
		waiting = redis.call('LPOS', KEYS[3], holder)
	end
	if ARGV[6] == 'replace' and waiting then
		local holder_key = ARGV[5] .. holder
		local fields = job_hash(ARGV[7])
		for i = 1, #fields - 1, 2 do
			if fields[i] == 'data' or fields[i] == 'description' then
				redis.call('HSET', holder_key, fields[i], fields[i + 1])
			end
		end
		redis.call('PEXPIRE', KEYS[1], ARGV[2])
		return {2, holder}
	end
	return {0, holder}
end

redis.call('HSET', KEYS[2], unpack(job_hash(ARGV[7])))
if not taken then  -- a holder healed, or handed over: the key passes to the new job now
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
redis.call('SADD', KEYS[4], KEYS[5])
if ARGV[3] == 'front' then
	redis.call('LPUSH', KEYS[3], ARGV[1])
elseif ARGV[3] == 'back' then
	redis.call('RPUSH', KEYS[3], ARGV[1])
else
	redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
end
return {1, ARGV[1]}
