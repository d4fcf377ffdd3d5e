-- barrier: write nothing, yet propagate a write, so that a WAIT or WAITAOF
-- sent after it on the same connection covers every earlier write to the key.
-- A repeat of an applied write is a no-op that propagates nothing; on a new
-- connection (a retry usually follows a lost one) WAIT would then confirm at
-- once what the replicas may not have. Each branch leaves the key exactly as
-- it was, its TTL included.
-- KEYS: the key the write before it touched
-- ARGV: (none)
-- Reply: {'ok'}
local function barrier(keys, args)
  local key = keys[1]
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'none' then
    redis.call('HSET', key, 'barrier', '')
    redis.call('DEL', key)
  elseif kind == 'hash' then
    local field = redis.call('HRANDFIELD', key, 1, 'WITHVALUES')
    redis.call('HSET', key, field[1], field[2])
  elseif kind == 'list' then
    redis.call('LSET', key, 0, redis.call('LINDEX', key, 0))
  elseif kind == 'set' then
    local member = '\0glide_memory:barrier'
    if redis.call('SADD', key, member) == 1 then redis.call('SREM', key, member) end
  else
    return {'error', key, 'a barrier cannot hold a key of type ' .. kind}
  end
  return {'ok'}
end
