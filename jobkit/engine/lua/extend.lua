-- extend.lua: set a key's TTL only if its owner token matches (compare-and-expire).
--
-- KEYS[1]  the key (a unique key or a lock)
-- ARGV[1]  the owner's token
-- ARGV[2]  the new TTL in milliseconds
--
-- Returns 1 when extended, 0 when the key is missing or owned by someone else.

if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
