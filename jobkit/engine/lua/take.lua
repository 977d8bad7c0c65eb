-- take.lua: a worker takes the first job of its queues, leaving a note that it did.
--
-- The job id leaves its queue and enters the taken set in one step, so a worker killed right
-- after it (before it starts the job, see start.lua) leaves the note behind, and the reaper gives
-- the job back (give_back.lua) instead of it being lost. A paused queue (in KEYS[2]) is passed
-- over: checked in the same step, so no job starts from a queue once it is paused.
--
-- KEYS[1]   the taken set (sorted set: RQ job id -> Unix time its note ends)
-- KEYS[2]   the paused queues (set of queue keys)
-- KEYS[3..] RQ queue keys, in the worker's order
-- ARGV[1]   the note's end (Unix seconds)
--
-- Returns {queue key, job id}; or, when nothing was taken, nil, or {} when a queue passed over
-- for its pause holds jobs.

local held_back = false
for i = 3, #KEYS do
	if redis.call('SISMEMBER', KEYS[2], KEYS[i]) == 1 then
		held_back = held_back or redis.call('LLEN', KEYS[i]) > 0
	else
		local job_id = redis.call('LPOP', KEYS[i])
		if job_id then
			redis.call('ZADD', KEYS[1], ARGV[1], job_id)
			return {KEYS[i], job_id}
		end
	end
end
if held_back then
	return {}
end
return nil
