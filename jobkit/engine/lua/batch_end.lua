-- batch_end.lua: count one ended segment of a batch's chunk, once; release the next chunk in its
-- place; say whether the batch ended.
--
-- A chunk runs as one segment, or as several when it checkpoints near its timeout (each later
-- segment starts where the previous one stopped, and is written and queued here, with the count
-- of the one before it). A segment run again (a retry after its worker died) is counted once: its
-- id goes into the set of ended segments first.
--
-- Every chunk's RQ job is written when the batch is created; those beyond max_parallel wait,
-- unqueued, in the pending list. A segment that ends its chunk pops the head of that list and
-- queues it here, in the same step that counts it, so each ended chunk releases exactly one chunk
-- and no chunk is released twice, however many end at once. While the batch's later chunks are
-- still being written and none waits, the release is owed: the next slice written pays it
-- (batch_write.lua).
--
-- KEYS[1]  the batch's state (hash)
-- KEYS[2]  the ended segments (set of "<chunk>:<start>")
-- KEYS[3]  the chunks not yet released (list of RQ job ids)
-- KEYS[4]  the failed items (list of JSON entries)
-- KEYS[5]  the batch's queue list, rq:queue:<queue>
-- KEYS[6]  the set of queues, rq:queues
-- KEYS[7]  the in-flight registry (sorted set of RQ ids)
-- ARGV[1]  the segment id
-- ARGV[2]  items of the segment that succeeded
-- ARGV[3]  items of the segment that failed
-- ARGV[4]  "1" when the segment ends its chunk, "0" when a continuation follows
-- ARGV[5]  now (Unix seconds)
-- ARGV[6]  seconds between two notices of the batch's progress to the host
-- ARGV[7]  the RQ job hash prefix ("rq:job:"); the released job's hash is written through it
-- ARGV[8]  the enqueued_at stamp to record on the released job, in RQ's format
-- ARGV[9]  the RQ id of the run ending the segment, whose in-flight entry goes with a counted end
--          that does not end the batch (the run that ends it stays in flight until it has
--          finished the batch), or ""
-- ARGV[10] the RQ id of the segment that continues the chunk (ARGV[4] "0"), or ""
-- ARGV[11] n: how many of the following ARGV are that segment's job hash, as field, value pairs
-- ARGV[12…11+n] its hash (what RQ's Job.save writes), saved and queued with a counted end only, so
--          that a segment run again (its first run died before its end was counted) writes the
--          continuation of its own end, never a second one from a different position
-- ARGV[12+n…] the failed items, as JSON entries
--
-- Returns {counted, released, last, notify}: counted 0 for a segment already counted (nothing
-- else is done); released the RQ id of the chunk queued in its place, or ""; last 1 for the one
-- call that ends the batch; notify 1 when the last notice is older than ARGV[6] (the batch's
-- record is updated).

if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then
	return {0, '', 0, 0}
end
redis.call('HINCRBY', KEYS[1], 'done', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'failed', ARGV[3])
local continuation_fields = tonumber(ARGV[11])
for i = 12 + continuation_fields, #ARGV do
	redis.call('RPUSH', KEYS[4], ARGV[i])
end
if ARGV[10] ~= '' then
	redis.call('HSET', ARGV[7] .. ARGV[10], unpack(ARGV, 12, 11 + continuation_fields))
	redis.call('RPUSH', KEYS[5], ARGV[10])
	redis.call('SADD', KEYS[6], KEYS[5])
end
local released = ''
if ARGV[4] == '1' then
	redis.call('HINCRBY', KEYS[1], 'chunks_done', 1)
	local next_id = redis.call('LPOP', KEYS[3])
	if next_id then
		redis.call('HSET', ARGV[7] .. next_id, 'status', 'queued', 'enqueued_at', ARGV[8])
		redis.call('RPUSH', KEYS[5], next_id)
		redis.call('SADD', KEYS[6], KEYS[5])
		released = next_id
	elseif redis.call('HGET', KEYS[1], 'max_parallel') ~= '0' and redis.call('HEXISTS', KEYS[1], 'writing') == 1 then
		-- No written chunk waits yet: the slice that writes the next ones queues one in its place.
		redis.call('HINCRBY', KEYS[1], 'owed', 1)
	end
end
local last = 0
if ends_batch(KEYS[1], ARGV[5]) then
	last = 1
end
if last == 0 and ARGV[9] ~= '' then
	redis.call('ZREM', KEYS[7], ARGV[9])
end
local notify = 0
if tonumber(ARGV[5]) - tonumber(redis.call('HGET', KEYS[1], 'notified_at') or '0') >= tonumber(ARGV[6]) then
	redis.call('HSET', KEYS[1], 'notified_at', ARGV[5])
	notify = 1
end
return {1, released, last, notify}
