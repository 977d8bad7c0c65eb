-- take.lua: a worker takes the first job of its queues, leaving a note that it did.
--
-- The job id leaves its queue and enters the taken set in one step, so a worker killed right
-- after it (before it starts the job, see start.lua) leaves the note behind, and the reaper gives
-- the job back (give_back.lua) instead of it being lost.
--
-- KEYS[1]   the taken set (sorted set: RQ job id -> Unix time its note ends)
-- KEYS[2..] RQ queue keys, in the worker's order
-- ARGV[1]   the note's end (Unix seconds)
--
-- Returns {queue key, job id}, or nil when every queue is empty.

for i = 2, #KEYS do
	local job_id = redis.call('LPOP', KEYS[i])
	if job_id then
		redis.call('ZADD', KEYS[1], ARGV[1], job_id)
		return {KEYS[i], job_id}
	end
end
return nil
