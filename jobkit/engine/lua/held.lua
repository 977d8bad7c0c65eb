-- held.lua: who holds a unique key, if its holder is still alive (read-only).
--
-- KEYS[1]  the unique key
-- ARGV[1]  the RQ job hash prefix ("rq:job:"), to read the holder's status (single Redis only)
-- ARGV[2]  "1" when an ended or vanished holder counts as not holding (healable lock types)
--
-- Returns {holder, status} while held, or false when the next claim would succeed.

local holder = redis.call('GET', KEYS[1])
if not holder then
	return false
end
local status = redis.call('HGET', ARGV[1] .. holder, 'status')
if ARGV[2] == '1' and ((not status) or status == 'finished' or status == 'failed'
	or status == 'stopped' or status == 'canceled') then
	return false
end
return {holder, status or 'gone'}
