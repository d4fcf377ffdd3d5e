-- record: write or delete one named value in a session's companion HASH.
-- KEYS: meta, chat, msgids, companion keys...
-- ARGV: now, owner ('': anyone), declared companions, companion to register,
--       index in KEYS of the hash, mode ('any', 'absent', 'present', 'delete'), name, value
--       | mode 'many', then name, value, ... and after '' the names to remove
-- Reply: {'ok', 1 written/deleted or 0 when the mode refused} | {'missing'} | {'forbidden', owner}
--      | {'stale', companions} | {'corrupt'|'denied'|'failed', key, detail}
local function record(keys, args)
  local s, refusal = read_session(keys[1], args[2], args[3], args[4])
  if not s then return refusal end
  local hash, mode, name = keys[tonumber(args[5])], args[6], args[7]
  if mode == 'many' then
    local split_at = #args + 1
    for i = 7, #args, 2 do
      if args[i] == '' then split_at = i break end
    end
    if split_at > 7 then
      local r = redis.pcall('HSET', hash, unpack(args, 7, math.min(split_at - 1, 7 + 2 * CHUNK - 1)))
      if type(r) == 'table' then return failure(hash, r) end
      if split_at - 1 > 7 + 2 * CHUNK - 1 then chunked('HSET', hash, args, 7 + 2 * CHUNK, split_at - 1) end
    end
    if split_at < #args then chunked('HDEL', hash, args, split_at + 1, #args) end
    save_companions(keys[1], s)
    touched(keys, s, args[1], false)
    return {'ok', 1}
  end
  if mode ~= 'any' then
    local present = redis.pcall('HEXISTS', hash, name)
    if type(present) == 'table' then return failure(hash, present) end
    if (mode == 'absent' and present == 1) or ((mode == 'present' or mode == 'delete') and present == 0) then
      return {'ok', 0}
    end
  end
  local r
  if mode == 'delete' then r = redis.pcall('HDEL', hash, name) else r = redis.pcall('HSET', hash, name, args[8]) end
  if type(r) == 'table' then return failure(hash, r) end
  save_companions(keys[1], s)
  touched(keys, s, args[1], false)
  return {'ok', 1}
end
