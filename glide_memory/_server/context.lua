-- context: what a model should see (read-only): the pinned messages, the summary,
-- and the newest messages that fit what is left of a token budget.
-- KEYS: list, meta
-- ARGV: token budget (-1: none), most messages besides the pinned (0: no limit),
--       the meta field counting the list's pinned messages, the meta field holding
--       its summary ('': leave the summary out), owner ('': anyone)
-- Reply: {'ok', list length, {position, entry, ...} of the pinned, summary or false,
--         position of the first newest message, {newest messages, oldest first}}
--      | {'missing'} | {'forbidden', owner}
-- The budget goes to the pinned messages and the summary first; the newest
-- messages never start with a tool result whose call was left out.
local function context(keys, args)
  local list, meta = keys[1], keys[2]
  local refused = refusal(meta, args[5])
  if refused then return refused end
  local budget, limit = tonumber(args[1]), tonumber(args[2])
  local wanted = {args[3]}
  if args[4] ~= '' then wanted[2] = args[4] end
  local m = redis.call('HMGET', meta, unpack(wanted))
  local pinned_count = tonumber(m[1]) or 0
  local summary = m[2] or false
  local len = redis.call('LLEN', list)
  local used = 0
  if summary then used = tokens_of(summary) end
  -- the pinned ones sit at the front once older than what the window keeps; look from there
  local pins, is_pin = {}, {}
  local found, position = 0, 0
  while found < pinned_count and position < len do
    local page = redis.call('LRANGE', list, position, position + 63)
    for i = 1, #page do
      if found < pinned_count and is_pinned(page[i]) then
        found = found + 1
        pins[#pins + 1] = position + i - 1
        pins[#pins + 1] = page[i]
        is_pin[position + i - 1] = true
        used = used + tokens_of(page[i])
      end
    end
    if #page == 0 then break end
    position = position + #page
  end
  local newest_first, positions = {}, {}
  local stop, full = len - 1, false
  while stop >= 0 and not full do
    local start = math.max(0, stop - 63)
    local page = redis.call('LRANGE', list, start, stop)
    for i = #page, 1, -1 do
      local at = start + i - 1
      if not is_pin[at] then
        local tokens = tokens_of(page[i])
        if (limit > 0 and #newest_first >= limit) or (budget >= 0 and used + tokens > budget) then
          full = true
          break
        end
        used = used + tokens
        newest_first[#newest_first + 1] = page[i]
        positions[#positions + 1] = at
      end
    end
    stop = start - 1
  end
  -- a result whose call did not fit must not open the window
  local oldest = #newest_first
  while oldest > 0 and is_result(newest_first[oldest]) do oldest = oldest - 1 end
  local items = {}
  for i = oldest, 1, -1 do items[#items + 1] = newest_first[i] end
  return {'ok', len, pins, summary, positions[oldest] or len, items}
end
