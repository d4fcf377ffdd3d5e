-- clear: remove the messages of one of a session's lists, keeping the session,
-- its counters and the ids of the messages it stored (a retried append stays a no-op).
-- KEYS: meta, chat, msgids, vec, vecmsg, companion keys..., ops
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
  if redis.call('EXISTS', keys[5]) == 1 then -- the cleared messages are recalled no more
    for start = 0, n - 1, 256 do forget_vectors(keys, ids_of(redis.call('LRANGE', list, start, start + 255))) end
  end
  redis.call('DEL', list)
  redis.call('HDEL', keys[1], args[5])
  op_save(ops, keys[1], args[6], args[7], tostring(n))
  return {'ok', n}
end
