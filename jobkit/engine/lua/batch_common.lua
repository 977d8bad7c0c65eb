-- batch_common.lua: what the batch scripts share; scripts.py puts it before each of them.

-- Delete the RQ jobs of chunks that will not run (ids: a list of RQ job ids).
local function delete_jobs(job_prefix, ids)
	for _, id in ipairs(ids) do
		redis.call('DEL', job_prefix .. id)
	end
end

-- Drop the chunks not yet released: their jobs deleted, the list emptied; returns how many.
local function drop_pending(pending, job_prefix)
	local dropped = redis.call('LRANGE', pending, 0, -1)
	delete_jobs(job_prefix, dropped)
	redis.call('DEL', pending)
	return #dropped
end

-- Whether this call ends the batch: every chunk has ended (run or dropped), and the batch is
-- marked ended here, once, at ``now``.
local function ends_batch(state, now)
	local ended = tonumber(redis.call('HGET', state, 'chunks_done') or '0')
		+ tonumber(redis.call('HGET', state, 'chunks_dropped') or '0')
	return ended >= tonumber(redis.call('HGET', state, 'chunks'))
		and redis.call('HSETNX', state, 'ended_at', now) == 1
end

