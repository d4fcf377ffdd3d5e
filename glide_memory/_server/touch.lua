-- touch: mark a session active and refresh the TTL of every key of it.
-- KEYS: meta, chat, msgids, companion keys...
-- ARGV: now, new ttl ('': keep the session's, '0': never expire), owner ('': anyone),
--       declared companions
-- Reply: {'ok', ttl or false, owner or false} | {'missing'} | {'forbidden', owner} | {'stale', companions}
local function touch(keys, args)
  local meta = keys[1]
  local s, refused = read_session(meta, args[3], args[4])
  if not s then return refused end
  local ttl = s.ttl
  if args[2] ~= '' then
    ttl = tonumber(args[2])
    redis.call('HSET', meta, 'ttl', args[2])
  end
  redis.call('HSET', meta, 'last_active', args[1])
  if ttl and ttl > 0 then
    refresh(keys, ttl, tonumber(args[1]))
  elseif ttl == 0 then
    redis.call('HDEL', meta, 'expires_at')
    for i = 1, #keys do redis.call('PERSIST', keys[i]) end
  else
    follow_meta(keys)
  end
  return {'ok', ttl or false, s.owner or false}
end
