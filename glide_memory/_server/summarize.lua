-- summarize: archive the oldest messages of a list and store the summary that covers them,
-- provided nothing moved since the caller read them.
-- KEYS: meta, chat, msgids, companion keys... (the archive among them)
-- ARGV: now, owner ('': anyone), declared companions, archive companion to register,
--       index in KEYS of the list, index in KEYS of its archive, the meta field of its
--       summary, the summary the caller started from ('': none), how many messages to
--       cover, the id of the first and of the last of them, the new summary
-- Reply: {'ok', messages archived} | {'moved'} (the summary or the messages changed meanwhile)
--      | {'missing'} | {'forbidden', owner} | {'stale', companions}
local function summarize(keys, args)
  local meta = keys[1]
  local s, refused = read_session(meta, args[2], args[3], args[4], args[7])
  if not s then return refused end
  if s.extra == args[12] then return {'ok', tonumber(args[9])} end -- an earlier attempt of this call stored it
  if (s.extra or '') ~= args[8] then return {'moved'} end
  local list, archive = keys[tonumber(args[5])], keys[tonumber(args[6])]
  local count, first_id, last_id = tonumber(args[9]), args[10], args[11]
  local kept, covered, position = {}, {}, 0
  local len = redis.call('LLEN', list)
  while #covered < count and position < len do
    local page = redis.call('LRANGE', list, position, position + 63)
    for i = 1, #page do
      if #covered == count then break end
      if is_pinned(page[i]) then kept[#kept + 1] = page[i] else covered[#covered + 1] = page[i] end
      position = position + 1
    end
  end
  if #covered < count then return {'moved'} end
  local first, last = decoded(covered[1]), decoded(covered[count])
  if first == nil or last == nil or first['id'] ~= first_id or last['id'] ~= last_id then return {'moved'} end
  for i = 1, count, CHUNK do redis.call('RPUSH', archive, unpack(covered, i, math.min(i + CHUNK - 1, count))) end
  redis.call('LTRIM', list, position, -1)
  for i = #kept, 1, -CHUNK do
    local pinned = {}
    for j = i, math.max(1, i - CHUNK + 1), -1 do pinned[#pinned + 1] = kept[j] end
    redis.call('LPUSH', list, unpack(pinned))
  end
  redis.call('HSET', meta, args[7], args[12])
  save_companions(meta, s)
  touched(keys, s, args[1], true)
  return {'ok', count}
end
