-- create: a session's meta HASH (and, standalone, its index entry).
-- KEYS: meta[, user index]
-- ARGV: ttl seconds ('0': never expires), session id, index margin seconds,
--       field, value, field, value, ...
-- Reply: {'ok'} | {'exists', owner or false, created_at or false}
local function create(keys, args)
  local meta, index = keys[1], keys[2]
  if redis.call('EXISTS', meta) == 1 then
    local m = redis.call('HMGET', meta, 'user_id', 'created_at')
    return {'exists', m[1] or false, m[2] or false}
  end
  local ttl = tonumber(args[1])
  for i = 4, #args, 2 * CHUNK do
    redis.call('HSET', meta, unpack(args, i, math.min(i + 2 * CHUNK - 1, #args)))
  end
  if ttl > 0 then redis.call('EXPIRE', meta, ttl) end
  if index then index_add(index, args[2], ttl, tonumber(args[3])) end
  return {'ok'}
end
