-- replace: put a new version of a stored message in its place (an edit, a redaction).
-- KEYS: meta, chat, msgids, vec, vecmsg, companion keys...
-- ARGV: now, owner ('': anyone), declared companions, the list's companion ('': the main list),
--       index in KEYS of the list, message id, new digest, new payload, the meta field counting
--       the list's pinned messages (kept right when the new version is pinned and the old was not),
--       the list's thread, recall ('': none, 'c': a copy, 'v': a copy and the vector record next,
--       'd:<role>:<ts>': and its search document, the last key), then the vector record
-- The old version's vector and copy go; the new version's, if given, take their place.
-- Reply: {'ok', position} | {'ok', false} when no stored message has the id
--      | {'missing'} | {'forbidden', owner} | {'stale', companions}
local function replace(keys, args)
  local s, refused = read_session(keys[1], args[2], args[3], args[4])
  if not s then return refused end
  local list, wanted = keys[tonumber(args[5])], args[6]
  local stop = redis.call('LLEN', list) - 1
  -- edits are of recent messages: look from the newest back, a page at a time
  while stop >= 0 do
    local start = math.max(0, stop - 63)
    local page = redis.call('LRANGE', list, start, stop)
    for i = #page, 1, -1 do
      local doc = string.find(page[i], wanted, 1, true) and decoded(page[i])
      if doc and doc['id'] == wanted then
        local at = start + i - 1
        local was, becomes = doc['pinned'] == true, is_pinned(args[8])
        redis.call('LSET', list, at, args[8])
        redis.call('HSET', keys[3], wanted, args[7])
        if was ~= becomes then redis.call('HINCRBY', keys[1], args[9], becomes and 1 or -1) end
        forget_vectors(keys, {wanted})
        local flag, last = args[11], #keys
        if flag ~= '' then
          local doc = nil
          if string.sub(flag, 1, 2) == 'd:' then
            local role, ts = string.match(flag, '^d:([^:]*):(.*)$')
            doc = search_document(keys[last], s.owner, args[13], args[10], role, ts, wanted, args[12])
            last = last - 1
          end
          local left = s.ttl and s.ttl > 0 and s.ttl * 1000 or redis.call('PTTL', keys[1])
          put_vector(keys, wanted, args[10], args[8], args[12], doc, left > 0 and 2 * left or 0) -- the TTL as grace
        end
        touched(keys, s, args[1], false, last)
        return {'ok', at}
      end
    end
    stop = start - 1
  end
  return {'ok', false}
end
