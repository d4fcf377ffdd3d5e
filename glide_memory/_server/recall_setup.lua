-- recall_setup: record which embedder and backend a schema's vectors use, unless one is recorded.
-- KEYS: the schema's recall HASH
-- ARGV: field, value, ... (embedder, dimensions, backend[, index])
-- Reply: {'ok', field, value, ...}: what is recorded now (another store's choice if it came first)
local function recall_setup(keys, args)
  if redis.call('EXISTS', keys[1]) == 0 then redis.call('HSET', keys[1], unpack(args)) end
  local out = {'ok'}
  for _, item in ipairs(redis.call('HGETALL', keys[1])) do out[#out + 1] = item end
  return out
end
