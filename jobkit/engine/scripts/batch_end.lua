-- batch_end.lua: count one ended segment of a batch's chunk, once, and say whether the batch ended.
--
-- A chunk runs as one segment, or as several when it checkpoints near its timeout (each later
-- segment starts where the previous one stopped). A segment run again (a retry after its worker
-- died) is counted once: its id goes into the set of ended segments first.
--
-- KEYS[1]  the batch's state (hash)
-- KEYS[2]  the ended segments (set of "<chunk>:<start>")
-- KEYS[3]  the chunks not yet released (list of chunk indexes)
-- KEYS[4]  the failed items (list of JSON entries)
-- ARGV[1]  the segment id
-- ARGV[2]  items of the segment that succeeded
-- ARGV[3]  items of the segment that failed
-- ARGV[4]  "1" when the segment ends its chunk, "0" when a continuation follows
-- ARGV[5]  the chunk index this process released (enqueued) in its place, or ""
-- ARGV[6]  now (Unix seconds)
-- ARGV[7]  seconds between two notices of the batch's progress to the host
-- ARGV[8]… the failed items, as JSON entries
--
-- Returns {counted, released, last, notify}: counted 0 for a segment already counted; released 1
-- when ARGV[5] was the head of the pending list and left it, -1 when another segment took that
-- chunk first (the caller then owes the batch a release: the field "handoff:<segment>" marks the
-- debt until batch_handoff.lua pays it, so a run of the segment again after a crash pays it too);
-- last 1 for the one call that ends the batch; notify 1 when the last notice is older than ARGV[7]
-- (the batch's record is updated).

if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then
	return {0, 0, 0, 0}
end
redis.call('HINCRBY', KEYS[1], 'done', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'failed', ARGV[3])
for i = 8, #ARGV do
	redis.call('RPUSH', KEYS[4], ARGV[i])
end
local released = 0
if ARGV[4] == '1' then
	redis.call('HINCRBY', KEYS[1], 'chunks_done', 1)
	if ARGV[5] ~= '' then
		if redis.call('LINDEX', KEYS[3], 0) == ARGV[5] then
			redis.call('LPOP', KEYS[3])
			released = 1
		else
			redis.call('HSET', KEYS[1], 'handoff:' .. ARGV[1], ARGV[6])
			released = -1
		end
	end
end
local ended = tonumber(redis.call('HGET', KEYS[1], 'chunks_done') or '0')
	+ tonumber(redis.call('HGET', KEYS[1], 'chunks_dropped') or '0')
local last = 0
if ended >= tonumber(redis.call('HGET', KEYS[1], 'chunks')) and redis.call('HSETNX', KEYS[1], 'ended_at', ARGV[6]) == 1 then
	last = 1
end
local notify = 0
if tonumber(ARGV[6]) - tonumber(redis.call('HGET', KEYS[1], 'notified_at') or '0') >= tonumber(ARGV[7]) then
	redis.call('HSET', KEYS[1], 'notified_at', ARGV[6])
	notify = 1
end
return {1, released, last, notify}
