-- claim.lua: claim a unique key and push the job that holds it, in one atomic step.
--
-- The caller's pipeline has just written the new job's hash (KEYS[2]) with a short TTL, so a
-- job never exists without its key, nor a key without its job: either this script keeps the
-- hash (PERSIST) and queues it, or it deletes it.
--
-- KEYS[1]  the unique key (value: the holder's RQ job id)
-- KEYS[2]  the new job's hash, rq:job:<token id>
-- KEYS[3]  the queue list, rq:queue:<name>
-- KEYS[4]  the set of queues, rq:queues
-- ARGV[1]  the new job's RQ id (the owner token)
-- ARGV[2]  the key's TTL in milliseconds
-- ARGV[3]  "1" to push at the front of the queue
-- ARGV[4]  "1" when a held key may be healed: its holder's hash is gone, or the holder ended
-- ARGV[5]  the RQ job hash prefix ("rq:job:"); the holder's hash is read through it, which a
--          Redis Cluster would refuse (Frappe and RQ use a single Redis server)
-- ARGV[6]  "claim", or "replace": a holder still waiting in KEYS[3] takes the new job's data
--
-- Returns {1, token} when claimed and queued; {0, holder} when another job holds the key;
-- {2, holder} when the holder's arguments were replaced (the new hash is deleted).

local holder = redis.call('GET', KEYS[1])
if holder and ARGV[4] == '1' then
	local status = redis.call('HGET', ARGV[5] .. holder, 'status')
	if (not status) or status == 'finished' or status == 'failed' or status == 'stopped'
		or status == 'canceled' then
		holder = false
	end
end

if holder then
	if ARGV[6] == 'replace' and redis.call('LPOS', KEYS[3], holder) then
		local holder_key = ARGV[5] .. holder
		redis.call('HSET', holder_key, 'data', redis.call('HGET', KEYS[2], 'data'),
			'description', redis.call('HGET', KEYS[2], 'description'))
		redis.call('DEL', KEYS[2])
		redis.call('PEXPIRE', KEYS[1], ARGV[2])
		return {2, holder}
	end
	redis.call('DEL', KEYS[2])
	return {0, holder}
end

redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PERSIST', KEYS[2])
redis.call('SADD', KEYS[4], KEYS[3])
if ARGV[3] == '1' then
	redis.call('LPUSH', KEYS[3], ARGV[1])
else
	redis.call('RPUSH', KEYS[3], ARGV[1])
end
return {1, ARGV[1]}
