-- gate_start.lua: a gated job's run starts: its place on a rate gate turns into a start (counted
-- for the gate's period), and its place on the other gates stays until it ends (gate_release).
-- See gate_common.lua.
--
-- ARGV[1]  the RQ job id
-- ARGV[2]  the job's gates (JSON, as in its hash)
--
-- Returns the number of gates on which the job had no place (it was let in by a path that did
-- not go through its gates, or its place was freed: the caller reports it).

local rq_id = ARGV[1]
local t = now()
local missing = 0
for _, gate in ipairs(cjson.decode(ARGV[2])) do
	local held = GATE .. gate[1] .. ':held'
	if kind(gate) == 'r' then
		missing = missing + (1 - redis.call('ZREM', held, rq_id))
		redis.call('ZADD', GATE .. gate[1] .. ':starts', t, rq_id)
	else
		missing = missing + redis.call('ZADD', held, t + REVIEW, rq_id)
	end
end
return missing
