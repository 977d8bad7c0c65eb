-- push.lua: write a job and queue it, in one step: what RQ's Queue.enqueue_job writes for a job
-- with no dependencies (rq 1.15: one MULTI round trip; rq 2.x: two).
--
-- KEYS[1]  the job's hash, rq:job:<id>
-- KEYS[2]  the queue list, rq:queue:<name>
-- KEYS[3]  the set of queues, rq:queues
-- ARGV[1]  packed (see packed.lua):
--   1  the RQ job id
--   2  "back" or "front" of the queue list
--   3… the job's hash: what RQ's Job.save writes, but its empty fields, which RQ reads as absent

local packed = unpacked(ARGV[1])
redis.call('HSET', KEYS[1], unpack(packed, 3))
redis.call('SADD', KEYS[3], KEYS[2])
if packed[2] == 'front' then
	redis.call('LPUSH', KEYS[2], packed[1])
else
	redis.call('RPUSH', KEYS[2], packed[1])
end
return 1
