-- clear: remove the messages of one of a session's lists, keeping the session,
-- its counters and the ids of the messages it stored (a retried append stays a no-op).
-- KEYS: meta, chat, msgids, companion keys...
-- ARGV: owner ('': anyone), declared companions, index in KEYS of the list,
--       the meta field counting its pinned messages
-- Reply: {'ok', messages removed} | {'missing'} | {'forbidden', owner} | {'stale', companions}
local function clear(keys, args)
  local s, refusal = read_session(keys[1], args[1], args[2])
  if not s then return refusal end
  local list = keys[tonumber(args[3])]
  local n = redis.call('LLEN', list)
  redis.call('DEL', list)
  redis.call('HDEL', keys[1], args[4])
  return {'ok', n}
end
