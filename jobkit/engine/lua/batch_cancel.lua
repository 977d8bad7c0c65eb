-- batch_cancel.lua: cancel a batch: drop the chunks not yet released, and say whether it ended.
--
-- Chunks already released see the flag when they start (and, per item, while they run) and end
-- without working; the batch ends when the last of them has. The RQ jobs of the dropped chunks,
-- written at the batch's creation and never queued, are deleted.
--
-- KEYS[1]  the batch's state (hash)
-- KEYS[2]  the chunks not yet released (list of RQ job ids)
-- ARGV[1]  now (Unix seconds)
-- ARGV[2]  the RQ job hash prefix ("rq:job:")
--
-- Returns {cancelled, last}: cancelled 0 when the batch had already ended; last 1 when this
-- call ended it (no chunk was running).

if redis.call('HEXISTS', KEYS[1], 'ended_at') == 1 then
	return {0, 0}
end
redis.call('HSET', KEYS[1], 'cancelled', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'chunks_dropped', drop_pending(KEYS[2], ARGV[2]))
if ends_batch(KEYS[1], ARGV[1]) then
	return {1, 1}
end
return {1, 0}
