-- remove: delete the messages with the given ids from a list.
-- KEYS: meta, chat, msgids, companion keys..., ops (see op_result in prelude.lua)
-- ARGV: now, owner, declared companions, the list's companion ('': the main list), index in KEYS
--       of the list, pin field, op id, ids...
-- Reply: {'ok', messages removed}
local function remove(keys, args)
  local s, refused = read_session(keys[1], args[2], args[3], args[4])
  if not s then return refused end
  local ops = keys[#keys]
  local done = op_result(ops, args[7])
  if done then return {'ok', tonumber(done)} end
  local list, wanted = keys[tonumber(args[5])], {}
  for i = 8, #args do wanted[args[i]] = true end
  local positions, entries = {}, {}
  local len = redis.call('LLEN', list)
  for start = 0, len - 1, 256 do
    local page = redis.call('LRANGE', list, start, start + 255)
    for i = 1, #page do
      local doc = decoded(page[i])
      if doc ~= nil and type(doc['id']) == 'string' and wanted[doc['id']] then
        positions[#positions + 1] = start + i - 1
        entries[#entries + 1] = page[i]
      end
    end
  end
  remove_at(list, positions)
  for _, entry in ipairs(entries) do forget(keys, args[6], entry) end
  touched(keys, s, args[1], false)
  op_save(ops, keys[1], args[7], args[1], tostring(#positions))
  return {'ok', #positions}
end
