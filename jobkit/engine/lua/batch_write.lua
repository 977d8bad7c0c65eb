-- batch_write.lua: make one more slice of a batch's chunks the batch's, while its chunks run.
--
-- A batch is made with its first slice of chunks (``batches.create``), so that its first chunks
-- run while the rest are written. Each later slice's RQ jobs are saved first, with a short TTL;
-- this call then keeps them and queues them, or leaves them pending, in one step: a writer that
-- dies before it leaves jobs that expire, and nothing any worker sees.
--
-- Chunks that ended while no written chunk was waiting to take their place (max_parallel reached
-- the end of what was written) left their place owed (``batch_end.lua``): this slice's pending
-- chunks pay it first.
--
-- A batch cancelled while it is written drops the slice (its jobs deleted, counted as dropped).
-- A batch whose writing the reaper has given up (the writer was not heard of in time) drops it
-- too, and the writer stops.
--
-- KEYS[1]  the batch's state (hash)
-- KEYS[2]  the chunks not yet released (list of RQ job ids)
-- KEYS[3]  the batch's queue list, rq:queue:<queue>
-- KEYS[4]  the set of queues, rq:queues
-- KEYS[5]  the batches being written (sorted set, by when their writer must next be heard of)
-- ARGV[1]  the batch id
-- ARGV[2]  now (Unix seconds)
-- ARGV[3]  when the writer must next be heard of, or "" for the last slice
-- ARGV[4]  the RQ job hash prefix ("rq:job:")
-- ARGV[5]  the enqueued_at stamp for jobs queued here, in RQ's format
-- ARGV[6]  how many of the ids that follow are queued at once (the rest are pending)
-- ARGV[7]  how many items the slice's chunks hold
-- ARGV[8]… the slice's RQ job ids, in chunk order
--
-- Returns {kept, last}: kept 0 when the batch's writing was given up (the writer stops); last 1
-- when this call ended the batch (it was cancelled and no chunk is running).

local ids = {}
for i = 8, #ARGV do
	ids[#ids + 1] = ARGV[i]
end
local writing = redis.call('HGET', KEYS[1], 'writing')
if not writing then
	delete_jobs(ARGV[4], ids)
	return {0, 0}
end
redis.call('HINCRBY', KEYS[1], 'written', #ids)
redis.call('HINCRBY', KEYS[1], 'written_items', ARGV[7])
if redis.call('HEXISTS', KEYS[1], 'cancelled') == 1 then
	delete_jobs(ARGV[4], ids)
	redis.call('HINCRBY', KEYS[1], 'chunks_dropped', #ids)
else
	local queued = tonumber(ARGV[6])
	for i, id in ipairs(ids) do
		redis.call('PERSIST', ARGV[4] .. id)
		if i <= queued then
			redis.call('RPUSH', KEYS[3], id)
		else
			redis.call('RPUSH', KEYS[2], id)
		end
	end
	local owed = tonumber(redis.call('HGET', KEYS[1], 'owed') or '0')
	while owed > 0 do
		local next_id = redis.call('LPOP', KEYS[2])
		if not next_id then
			break
		end
		redis.call('HSET', ARGV[4] .. next_id, 'status', 'queued', 'enqueued_at', ARGV[5])
		redis.call('RPUSH', KEYS[3], next_id)
		owed = owed - 1
	end
	redis.call('HSET', KEYS[1], 'owed', owed)
	redis.call('SADD', KEYS[4], KEYS[3])
end
if ARGV[3] == '' then
	redis.call('HDEL', KEYS[1], 'writing')
	redis.call('ZREM', KEYS[5], ARGV[1])
else
	redis.call('HSET', KEYS[1], 'writing', ARGV[3])
	redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
end
if ends_batch(KEYS[1], ARGV[2]) then
	return {1, 1}
end
return {1, 0}
