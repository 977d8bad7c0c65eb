-- batch_give_up.lua: give up the writing of a batch whose writer stopped: cancel the batch.
--
-- Run by the reaper for a batch whose writer was not heard of in time (it died while writing the
-- chunks), and by the writer itself when writing failed. The chunks never written are dropped,
-- and so are the written ones still waiting; chunks already running see the cancel. Writing a
-- slice after this drops it (``batch_write.lua``).
--
-- KEYS[1]  the batch's state (hash)
-- KEYS[2]  the chunks not yet released (list of RQ job ids)
-- KEYS[3]  the batches being written (sorted set, by when their writer must next be heard of)
-- ARGV[1]  the batch id
-- ARGV[2]  now (Unix seconds)
-- ARGV[3]  the RQ job hash prefix ("rq:job:")
-- ARGV[4]  "1": give up whenever the writer was last heard of (the writer's own call)
--
-- Returns {given_up, last}: given_up 0 when the batch is no longer being written, or its writer
-- was heard of since; last 1 when this call ended the batch (no chunk was running).

local writing = redis.call('HGET', KEYS[1], 'writing')
if not writing then
	redis.call('ZREM', KEYS[3], ARGV[1])
	return {0, 0}
end
if ARGV[4] ~= '1' and tonumber(writing) > tonumber(ARGV[2]) then
	return {0, 0}
end
redis.call('HDEL', KEYS[1], 'writing')
redis.call('ZREM', KEYS[3], ARGV[1])
local unwritten = tonumber(redis.call('HGET', KEYS[1], 'chunks')) - tonumber(redis.call('HGET', KEYS[1], 'written') or '0')
redis.call('HSETNX', KEYS[1], 'cancelled', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'chunks_dropped', unwritten + drop_pending(KEYS[2], ARGV[3]))
if ends_batch(KEYS[1], ARGV[2]) then
	return {1, 1}
end
return {1, 0}
