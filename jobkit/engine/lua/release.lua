-- release.lua: delete a key only if its owner token matches (compare-and-delete).
--
-- KEYS[1]  the key (a unique key or a lock)
-- ARGV[1]  the owner's token
--
-- Returns 1 when released, 0 when the key is missing or owned by someone else.

if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
