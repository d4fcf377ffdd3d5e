-- update: set and remove caller fields of a session's meta HASH.
-- KEYS: meta
-- ARGV: owner ('': anyone), number of fields to set, field, value, ..., fields to remove...
-- Reply: {'ok'} | {'missing'} | {'forbidden', owner}
local function update(keys, args)
  local meta = keys[1]
  local s, refused = read_session(meta, args[1])
  if not s then return refused end
  local pairs_end = 2 + 2 * tonumber(args[2])
  for i = 3, pairs_end, 2 * CHUNK do
    redis.call('HSET', meta, unpack(args, i, math.min(i + 2 * CHUNK - 1, pairs_end)))
  end
  if #args > pairs_end then chunked('HDEL', meta, args, pairs_end + 1, #args) end
  return {'ok'}
end
