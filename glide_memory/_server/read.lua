-- read: read commands on a session's keys, run only if the session is in the caller's scope
-- (read-only; a scoped store's reads, so that the check and the read are one atomic call).
-- KEYS: meta, then the keys the commands read
-- ARGV: owner, then per command: its name, the index in KEYS of its key, how many arguments
--       follow, the arguments
-- Reply: {'ok', each command's reply...} | {'missing'} | {'forbidden', owner} | {'error', key, text}
local READS = {LRANGE = true, LINDEX = true, LLEN = true, HGET = true, HMGET = true, HGETALL = true,
               HLEN = true, EXISTS = true, PTTL = true}

local function read(keys, args)
  local refused = refusal(keys[1], args[1])
  if refused then return refused end
  local out, i = {'ok'}, 2
  while i <= #args do
    local name, key, n = args[i], keys[tonumber(args[i + 1])], tonumber(args[i + 2])
    if not READS[name] then return {'error', key, 'read does not run ' .. name} end
    local r = redis.pcall(name, key, unpack(args, i + 3, i + 2 + n))
    if type(r) == 'table' and r['err'] then return failure(key, r) end
    out[#out + 1] = r
    i = i + 3 + n
  end
  return out
end
