-- clear: remove the messages of one of a session's lists, keeping the session,
-- its counters and the ids of the messages it stored (a retried append stays a no-op).
-- KEYS: meta, chat, msgids, companion keys..., ops
-- ARGV: owner ('': anyone), declared companions, the list's companion ('': the main list), index in
--       KEYS of the list, the meta field counting its pinned messages, op id, now
-- Reply: {'ok', messages removed} | {'missing'} | {'forbidden', owner} | {'stale', companions}
local function clear(keys, args)
  local s, refused = read_session(keys[1], args[1], args[2], args[3])
  if not s then return refused end
  local ops = keys[#keys]
  local done = op_result(ops, args[6])
  if done then return {'ok', tonumber(done)} end
  local list = keys[tonumber(args[4])]
  local n = redis.call('LLEN', list)
  redis.call('DEL', list)
  redis.call('HDEL', keys[1], args[5])
  op_save(ops, keys[1], args[6], args[7], tostring(n))
  return {'ok', n}
end
