-- job_hash.lua, sent before the scripts that write a job (push.lua, claim.lua): a job's hash as its
-- writer sends it, in one argument: each field and each value as a 4-byte big-endian length, then
-- its bytes (``rqjob.hash_blob``). One argument instead of twenty: the client packs every argument
-- of a call in Python, which cost it more than the script's unpacking costs the server (measured).
local function job_hash(blob)
	local fields, pos = {}, 1
	while pos <= #blob do
		local length = struct.unpack('>I4', blob, pos)
		fields[#fields + 1] = string.sub(blob, pos + 4, pos + 3 + length)
		pos = pos + 4 + length
	end
	return fields
end
