-- pop: remove the newest message of a list.
-- KEYS: meta, chat, msgids, companion keys..., ops (see op_result in prelude.lua)
-- ARGV: now, owner ('': anyone), declared companions, the list's companion ('': the main list),
--       index in KEYS of the list, pin field, op id
-- Reply: {'ok', entry or false}
local function pop(keys, args)
  local s, refused = read_session(keys[1], args[2], args[3], args[4])
  if not s then return refused end
  local ops = keys[#keys]
  local done = op_result(ops, args[7])
  if done then return {'ok', done ~= '' and done or false} end
  local entry = redis.call('RPOP', keys[tonumber(args[5])])
  if entry then forget(keys, args[6], entry) end
  touched(keys, s, args[1], false)
  op_save(ops, keys[1], args[7], args[1], entry or '')
  return {'ok', entry or false}
end
