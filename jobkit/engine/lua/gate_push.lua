-- gate_push.lua: write a gated job and, in the same step, let it in (a place on each of its gates,
-- and onto its queue), make it wait on the first closed gate (in no queue), or, when it is due
-- later, keep it in the gates' own schedule (which the gates' timer promotes through the gates).
-- See gate_common.lua.
--
-- KEYS[1]  the job's hash, rq:job:<id>
-- ARGV[1]  packed (see packed.lua):
--   1  the RQ job id
--   2  its due time (Unix seconds), or "" for now
--   3  "back" or "front" of the queue list
--   4  the enqueued_at stamp, in RQ's format
--   5… the job's hash (with its 'jobkit_gates')
--
-- Returns 1 when queued, 0 when waiting on a gate, 2 when scheduled.

local packed = unpacked(ARGV[1])
local rq_id, due, placement, stamp = packed[1], packed[2], packed[3], packed[4]
redis.call('HSET', KEYS[1], unpack(packed, 5))
local gates = gates_of(rq_id)
for _, gate in ipairs(gates) do
	redis.call('HSET', GATES, gate[1], cjson.encode(gate))
end
local t = now()
if due ~= '' and tonumber(due) > t then
	redis.call('HSET', KEYS[1], 'status', 'scheduled')
	redis.call('ZADD', LATER, due, rq_id)
	return 2
end
local gate = closed_gate(gates, t)
if gate then
	wait_on(rq_id, gate, t, false)
	return 0
end
let_in(rq_id, gates, t, placement == 'front', stamp)
return 1
