-- gate_release.lua: a gated job's run ended (or was reaped): its places go, and the jobs waiting
-- on its gates are let in while the gates are open. See gate_common.lua.
--
-- ARGV[1]  the RQ job id
-- ARGV[2]  the job's gates (JSON, as in its hash; the hash may be gone)
-- ARGV[3]  the enqueued_at stamp for the jobs let in, in RQ's format
-- ARGV[4]  the most jobs to let in per gate (the gates' timer lets in the rest)
--
-- Returns the number of jobs let in.

local rq_id = ARGV[1]
local t = now()
local gates = cjson.decode(ARGV[2])
for _, gate in ipairs(gates) do
	redis.call('ZREM', GATE .. gate[1] .. ':held', rq_id)
end
local let = 0
for _, gate in ipairs(gates) do
	let = let + let_waiters_in(gate[1], t, ARGV[3], tonumber(ARGV[4]))
end
return let
