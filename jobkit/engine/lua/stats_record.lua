-- stats_record.lua: add one run to its minute, its hour and the lifetime totals, and note it among
-- its method's recent runs (stats.record). One call, so a run costs one command on the wire.
--
-- KEYS[1]  the minute's hash          KEYS[2]  the hour's hash          KEYS[3]  the totals hash
-- KEYS[4]  the method's recent runs (sorted set)                        KEYS[5]  the methods (sorted set)
-- ARGV[1]  the fields' prefix "{queue}|{method}|"
-- ARGV[2]  the minute's TTL (s)   ARGV[3]  the hour's TTL (s)
-- ARGV[4]  recent runs kept       ARGV[5]  their TTL (s)
-- ARGV[6]  the run's RQ id ("" for none)   ARGV[7]  now (Unix time)   ARGV[8]  the method
-- ARGV[9..] counter, amount, counter, amount, ...
--
-- Returns nothing.

for i = 9, #ARGV, 2 do
	local field = ARGV[1] .. ARGV[i]
	for k = 1, 3 do
		redis.call('HINCRBY', KEYS[k], field, ARGV[i + 1])
	end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
if ARGV[6] ~= '' then
	redis.call('ZADD', KEYS[4], ARGV[7], ARGV[6])
	redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -tonumber(ARGV[4]) - 1)
	redis.call('EXPIRE', KEYS[4], ARGV[5])
end
redis.call('ZADD', KEYS[5], ARGV[7], ARGV[8])
