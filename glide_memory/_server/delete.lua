-- delete: remove every key of a session at once.
-- KEYS: meta, chat, msgids, companion keys..., [user index, standalone only]
-- ARGV: declared companions, owner ('': anyone), session id, 1 if the last key is the user index
-- Reply: {'ok', keys deleted, owner or false} | {'forbidden', owner} | {'stale', companions}
-- A scoped call (owner given) deletes only a session of that owner; a session nobody owns is refused.
local function delete(keys, args)
  local meta = keys[1]
  local m = redis.call('HMGET', meta, 'user_id', 'companions')
  if not in_scope(args[2], m[1]) and redis.call('EXISTS', meta) == 1 then return {'forbidden', m[1] or false} end
  if (m[2] or '') ~= args[1] and redis.call('EXISTS', meta) == 1 then return {'stale', m[2] or ''} end
  local last = #keys
  if args[4] == '1' then
    last = last - 1
    if m[1] then redis.call('SREM', keys[#keys], args[3]) end
  end
  local deleted = 0
  for i = 1, last, CHUNK do
    deleted = deleted + redis.call('DEL', unpack(keys, i, math.min(i + CHUNK - 1, last)))
  end
  return {'ok', deleted, m[1] or false}
end
