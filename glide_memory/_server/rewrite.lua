-- rewrite: replace every message of a list with the given ones.
-- KEYS: meta, chat, msgids, companion keys..., ops (see op_result in prelude.lua)
-- ARGV[1]: tab-separated: now, owner, declared companions, companion to register, index in KEYS
--          of the list, pin field, op id, then per message: id, digest, tokens, pinned (1/0)
-- ARGV[2...]: the messages' stored JSON, in order
-- Reply: {'ok', messages stored}. Ids not stored before count in message_count and token_count.
local function rewrite(keys, args)
  local h = split(args[1])
  local meta, ids, list = keys[1], keys[3], keys[tonumber(h[5])]
  local s, refused = read_session(meta, h[2], h[3], h[4])
  if not s then return refused end
  local ops = keys[#keys]
  local done = op_result(ops, h[7])
  if done then return {'ok', tonumber(done)} end
  local n = #args - 1
  local keep = {}
  for k = 1, n do keep[h[4 + 4 * k]] = true end
  local len = redis.call('LLEN', list)
  for start = 0, len - 1, 256 do
    local page = redis.call('LRANGE', list, start, start + 255)
    for i = 1, #page do
      local doc = decoded(page[i])
      if doc ~= nil and type(doc['id']) == 'string' and not keep[doc['id']] then redis.call('HDEL', ids, doc['id']) end
    end
  end
  redis.call('DEL', list)
  local added, tokens, pins = 0, 0, 0
  for k = 1, n do
    local at = 4 + 4 * k
    if redis.call('HSET', ids, h[at], h[at + 1]) == 1 then
      added = added + 1
      tokens = tokens + tonumber(h[at + 2])
    end
    if h[at + 3] == '1' then pins = pins + 1 end
  end
  for i = 2, #args, CHUNK do redis.call('RPUSH', list, unpack(args, i, math.min(i + CHUNK - 1, #args))) end
  if added > 0 then redis.call('HINCRBY', meta, 'message_count', added) end
  if tokens > 0 then redis.call('HINCRBY', meta, 'token_count', tokens) end
  if pins > 0 then redis.call('HSET', meta, h[6], pins) else redis.call('HDEL', meta, h[6]) end
  save_companions(meta, s)
  touched(keys, s, h[1], n > 0)
  op_save(ops, meta, h[7], h[1], tostring(n))
  return {'ok', n}
end
