-- start.lua: a worker starts a job it took: its note goes and, for a jobkit job, the run is put
-- in flight under a lease (see inflight.py), in one step.
--
-- The note may already be gone: the worker took longer than the note's life, and the reaper gave
-- the job back to its queue (give_back.lua). Both scripts remove the note, so exactly one of them
-- acts: the worker then leaves the job to whoever takes it next.
--
-- KEYS[1]  the taken set (sorted set: RQ job id -> Unix time its note ends)
-- KEYS[2]  optional: the job's in-flight registry (sorted set: RQ id -> Unix time its lease ends)
-- ARGV[1]  the RQ job id
-- ARGV[2]  with KEYS[2]: the lease end (Unix seconds)
--
-- Returns 1 when the worker may run the job, 0 when it was given back.

if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
	return 0
end
if KEYS[2] then
	redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
end
return 1
