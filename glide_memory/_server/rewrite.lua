-- rewrite: replace every message of a list with the given ones.
-- KEYS: meta, chat, msgids, vec, vecmsg, companion keys..., ops (see op_result in prelude.lua), then
--       the search document keys of the messages that get one
-- ARGV[1]: tab-separated: now, owner, declared companions, companion to register, index in KEYS
--          of the list, pin field, op id, the list's thread ('': the main one), how many search
--          document keys KEYS ends with, their grace in seconds, then per message: id, digest,
--          tokens, pinned (1/0), recall (as for append); last, the session id
-- ARGV[2...]: the messages' stored JSON, in order; then the vector records of those with one
-- Reply: {'ok', messages stored}. Ids not stored before count in message_count and token_count.
local function rewrite(keys, args)
  local h = split(args[1])
  local meta, ids, list = keys[1], keys[3], keys[tonumber(h[5])]
  local s, refused = read_session(meta, h[2], h[3], h[4])
  if not s then return refused end
  local documents = tonumber(h[9])
  local ops = keys[#keys - documents]
  local done = op_result(ops, h[7])
  if done then return {'ok', tonumber(done)} end
  local n = math.floor((#h - 10) / 5)
  local session_id = h[11 + 5 * n]
  local keep = {}
  for k = 1, n do keep[h[6 + 5 * k]] = true end
  local dropped = {}
  local len = redis.call('LLEN', list)
  for start = 0, len - 1, 256 do
    local page = redis.call('LRANGE', list, start, start + 255)
    for i = 1, #page do
      local doc = decoded(page[i])
      if doc ~= nil and type(doc['id']) == 'string' and not keep[doc['id']] then
        redis.call('HDEL', ids, doc['id'])
        dropped[#dropped + 1] = doc['id']
      end
    end
  end
  redis.call('DEL', list)
  forget_vectors(keys, dropped)
  local added, tokens, pins, vector_arg, document_key = 0, 0, 0, n + 1, #keys - documents
  local expire_ms = 0
  if documents > 0 and s.ttl and s.ttl > 0 then
    expire_ms = (s.ttl + tonumber(h[10])) * 1000
  end
  for k = 1, n do
    local at = 6 + 5 * k
    local flag = h[at + 4]
    if flag ~= '' then
      local record, doc = nil, nil
      if flag ~= 'c' then
        vector_arg = vector_arg + 1
        record = args[vector_arg]
      end
      if string.sub(flag, 1, 2) == 'd:' then
        document_key = document_key + 1
        local role, ts = string.match(flag, '^d:([^:]*):(.*)$')
        doc = search_document(keys[document_key], s.owner, session_id, h[8], role, ts, h[at], record)
      end
      put_vector(keys, h[at], h[8], args[k + 1], record, doc, expire_ms)
    end
    if redis.call('HSET', ids, h[at], h[at + 1]) == 1 then
      added = added + 1
      tokens = tokens + tonumber(h[at + 2])
    end
    if h[at + 3] == '1' then pins = pins + 1 end
  end
  for i = 2, n + 1, CHUNK do redis.call('RPUSH', list, unpack(args, i, math.min(i + CHUNK - 1, n + 1))) end
  if added > 0 then redis.call('HINCRBY', meta, 'message_count', added) end
  if tokens > 0 then redis.call('HINCRBY', meta, 'token_count', tokens) end
  if pins > 0 then redis.call('HSET', meta, h[6], pins) else redis.call('HDEL', meta, h[6]) end
  save_companions(meta, s)
  touched(keys, s, h[1], n > 0, #keys - documents)
  op_save(ops, meta, h[7], h[1], tostring(n))
  return {'ok', n}
end
