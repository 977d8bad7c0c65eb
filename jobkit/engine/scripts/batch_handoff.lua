-- batch_handoff.lua: pay a segment's release debt (see batch_end.lua): pop the chunk it enqueued.
--
-- An ended chunk hands its place in max_parallel to the next pending chunk: it enqueues the head
-- of the pending list (an idempotent enqueue: the job id is per segment) and then pops it, only if
-- it is still the head. When two segments enqueue the same head, one pops it and the other owes a
-- release, marked by "handoff:<segment>" in the state; it enqueues the new head and calls this.
--
-- KEYS[1]  the batch's state (hash)
-- KEYS[2]  the chunks not yet released (list of chunk indexes)
-- ARGV[1]  the segment id
-- ARGV[2]  the chunk index the caller enqueued, or "" when it found the list empty
--
-- Returns 1 when nothing is owed any more (paid now or before, or nothing left to release), 0 when
-- ARGV[2] is no longer the head: enqueue the new head and call again.

local field = 'handoff:' .. ARGV[1]
if redis.call('HEXISTS', KEYS[1], field) == 0 then
	return 1
end
local head = redis.call('LINDEX', KEYS[2], 0)
if not head then
	redis.call('HDEL', KEYS[1], field)
	return 1
end
if head == ARGV[2] then
	redis.call('LPOP', KEYS[2])
	redis.call('HDEL', KEYS[1], field)
	return 1
end
return 0
