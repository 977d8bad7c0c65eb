-- gate_admit.lua: put a gated job that waits in the gates' schedule (written there by claim.lua
-- with its unique key) through its gates now: let in, or waiting. See gate_common.lua.
--
-- KEYS[1]  the job's hash, rq:job:<id>
-- ARGV[1]  the RQ job id
-- ARGV[2]  the enqueued_at stamp, in RQ's format
--
-- Returns 1 when queued, 0 when waiting, -1 when the job was no longer in the schedule (the
-- gates' timer took it first).

local rq_id = ARGV[1]
if redis.call('ZREM', LATER, rq_id) == 0 then
	return -1
end
local gates = gates_of(rq_id)
for _, gate in ipairs(gates) do
	redis.call('HSET', GATES, gate[1], cjson.encode(gate))
end
return admit(rq_id, gates, now(), ARGV[2], false)
