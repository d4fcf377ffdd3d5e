-- record: write or delete one named value in a session's companion HASH.
-- KEYS: meta, chat, msgids, companion keys..., ops
-- ARGV: now, owner ('': anyone), declared companions, companion to register,
--       index in KEYS of the hash, op id ('': none), mode ('any', 'absent', 'present', 'delete'),
--       name, value | mode 'many', then name, value, ... and after '' the names to remove
-- Reply: {'ok', 1 written/deleted or 0 when the mode refused} | {'missing'} | {'forbidden', owner}
--      | {'stale', companions} | {'error', key, the server's text}
local function record(keys, args)
  local s, refused = read_session(keys[1], args[2], args[3], args[4])
  if not s then return refused end
  local ops, op = keys[#keys], args[6]
  local done = op_result(ops, op)
  if done then return {'ok', tonumber(done)} end
  local hash, mode, name = keys[tonumber(args[5])], args[7], args[8]
  if mode == 'many' then
    local split_at = #args + 1
    for i = 8, #args, 2 do
      if args[i] == '' then split_at = i break end
    end
    if split_at > 8 then
      local r = redis.pcall('HSET', hash, unpack(args, 8, math.min(split_at - 1, 8 + 2 * CHUNK - 1)))
      if type(r) == 'table' then return failure(hash, r) end
      if split_at - 1 > 8 + 2 * CHUNK - 1 then chunked('HSET', hash, args, 8 + 2 * CHUNK, split_at - 1) end
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
      op_save(ops, keys[1], op, args[1], '0')
      return {'ok', 0}
    end
  end
  local r
  if mode == 'delete' then r = redis.pcall('HDEL', hash, name) else r = redis.pcall('HSET', hash, name, args[9]) end
  if type(r) == 'table' then return failure(hash, r) end
  save_companions(keys[1], s)
  touched(keys, s, args[1], false)
  op_save(ops, keys[1], op, args[1], '1')
  return {'ok', 1}
end
