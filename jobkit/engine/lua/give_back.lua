-- give_back.lua: put back on their queues the jobs whose worker was lost between taking them
-- (take.lua) and starting them (start.lua).
--
-- A note past its end belongs to such a worker. The job goes back to the front of its queue
-- (where it was taken from) if it is still "queued": a work-horse that began it has marked it
-- "started", and a job cancelled or deleted since stays as it is. Each note is removed by one
-- script, this one or start.lua, so a job is given back or run, never both.
--
-- KEYS[1]  the taken set (sorted set: RQ job id -> Unix time its note ends)
-- KEYS[2]  RQ's set of queue keys
-- ARGV[1]  now (Unix seconds)
-- ARGV[2]  the most notes to handle
-- ARGV[3]  RQ's job key prefix ("rq:job:")
-- ARGV[4]  RQ's queue key prefix ("rq:queue:")
--
-- Returns the RQ job ids given back.

local given_back = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, job_id in ipairs(due) do
	redis.call('ZREM', KEYS[1], job_id)
	local job = redis.call('HMGET', ARGV[3] .. job_id, 'status', 'origin')
	if job[1] == 'queued' and job[2] then
		local queue = ARGV[4] .. job[2]
		redis.call('LPUSH', queue, job_id)
		redis.call('SADD', KEYS[2], queue)
		given_back[#given_back + 1] = job_id
	end
end
return given_back
