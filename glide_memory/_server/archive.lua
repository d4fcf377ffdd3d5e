-- archive: move the oldest `count` unpinned messages of a list to its archive, and the tool
-- results right after them whose calls went (a kept list never opens with an orphaned result).
-- KEYS: meta, chat, msgids, companion keys..., ops (see op_result in prelude.lua)
-- ARGV: now, owner, declared companions, archive companion to register, index in KEYS of the
--       list, index in KEYS of its archive, count, op id
-- Reply: {'ok', messages archived}
local function archive(keys, args)
  local meta = keys[1]
  local s, refused = read_session(meta, args[2], args[3], args[4])
  if not s then return refused end
  local ops = keys[#keys]
  local done = op_result(ops, args[8])
  if done then return {'ok', tonumber(done)} end
  local list, archived = keys[tonumber(args[5])], keys[tonumber(args[6])]
  local count = tonumber(args[7])
  local kept, covered, position = {}, {}, 0
  local len = redis.call('LLEN', list)
  local done_covering = count <= 0
  while not done_covering and position < len do
    local page = redis.call('LRANGE', list, position, position + 63)
    for i = 1, #page do
      if is_pinned(page[i]) then
        kept[#kept + 1] = page[i]
      elseif #covered < count or is_result(page[i]) then
        covered[#covered + 1] = page[i]
      else
        done_covering = true
        break
      end
      position = position + 1
    end
  end
  if #covered > 0 then
    for i = 1, #covered, CHUNK do
      redis.call('RPUSH', archived, unpack(covered, i, math.min(i + CHUNK - 1, #covered)))
    end
    redis.call('LTRIM', list, position, -1)
    for i = #kept, 1, -CHUNK do
      local pinned = {}
      for j = i, math.max(1, i - CHUNK + 1), -1 do pinned[#pinned + 1] = kept[j] end
      redis.call('LPUSH', list, unpack(pinned))
    end
    save_companions(meta, s)
  end
  touched(keys, s, args[1], #covered > 0)
  op_save(ops, meta, args[8], args[1], tostring(#covered))
  return {'ok', #covered}
end
