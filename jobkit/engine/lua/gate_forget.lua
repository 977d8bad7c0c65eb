-- gate_forget.lua: drop idle gates from the list of gates seen (what the health report and the Jobs
-- page read): a gate with no place taken, no start in its window and no job waiting. Checked here,
-- in one step, so that a gate a job has just entered is kept. See gate_common.lua.
--
-- ARGV  the gate ids to look at
--
-- Returns the number dropped.

local dropped = 0
for _, gate_id in ipairs(ARGV) do
	local base = GATE .. gate_id
	if redis.call('ZCARD', base .. ':held') == 0 and redis.call('LLEN', base .. ':waiting') == 0
		and redis.call('ZCARD', base .. ':starts') == 0 then
		dropped = dropped + redis.call('HDEL', GATES, gate_id)
	end
end
return dropped
