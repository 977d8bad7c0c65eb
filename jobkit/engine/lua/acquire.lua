-- acquire.lua: take a key for a token if it is free, or if its holder job has ended or is gone.
--
-- Used for the run lock of `while_executing` jobs, whose holder is another job.
--
-- KEYS[1]  the key
-- ARGV[1]  the new owner's token (its RQ job id)
-- ARGV[2]  the TTL in milliseconds
-- ARGV[3]  the RQ job hash prefix ("rq:job:"), to read the holder's status (single Redis only)
--
-- Returns {1, token} when taken, {0, holder} when held by a live job.

local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
	local status = redis.call('HGET', ARGV[3] .. holder, 'status')
	if status and status ~= 'finished' and status ~= 'failed' and status ~= 'stopped'
		and status ~= 'canceled' then
		return {0, holder}
	end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, ARGV[1]}
