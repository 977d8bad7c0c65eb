-- packed.lua, sent before the scripts that write a job (push.lua, claim.lua): their arguments and
-- the job's hash as the client sends them, in one argument (``rqjob.packed``): a run of MessagePack
-- strings (str 32: the byte 0xdb, a 4-byte big-endian length, the bytes), which Redis's built-in
-- cmsgpack decodes in C. One argument instead of twenty-five: redis-py packs every argument of a
-- call in Python, which costs the client more than this decoding costs the server (measured:
-- docs/benchmarks.md).
local function unpacked(blob)
	return {cmsgpack.unpack(blob)}
end
