-- append: add messages to one of a session's lists, each applied at most once per id.
-- KEYS: meta, chat, msgids, companion keys...
-- ARGV[1]: tab-separated: now, window (0: none), owner ('': anyone), declared companions,
--          companion to register ('': none), index in KEYS of the list to append to,
--          total tokens, the meta field counting the list's pinned messages, then per
--          message: id, digest, tokens, pinned (1/0)
-- ARGV[2...]: the messages' stored JSON, in order
-- Reply: {'ok', list length, messages applied, ttl refreshed (0/1), owner or false, ttl or false}
--      | {'missing'} | {'forbidden', owner} | {'stale', companions} | {'conflict', message id}
--      | {'error', key, the server's text}

-- Undo the counters and ids an append wrote before a later write failed.
local function undo(meta, ids, fresh, steps, count, pin_field, pins)
  for _, step in ipairs(steps) do redis.call('HINCRBY', meta, 'token_count', '-' .. step) end
  if count > 0 then redis.call('HINCRBY', meta, 'message_count', -count) end
  if pins > 0 then redis.call('HINCRBY', meta, pin_field, -pins) end
  for _, id in ipairs(fresh) do redis.call('HDEL', ids, id) end
end

local function append(keys, args)
  local h = split(args[1])
  local meta, ids, list = keys[1], keys[3], keys[tonumber(h[6])]
  local pin_field = h[8]
  local s, refused = read_session(meta, h[3], h[4], h[5], pin_field)
  if not s then return refused end
  local n = #args - 1

  -- which messages are new: a repeated id with the same digest was applied before
  local fresh, payloads, steps, pins = {}, {}, {}, 0
  if n == 1 then
    local added = redis.pcall('HSETNX', ids, h[9], h[10])
    if type(added) == 'table' then return failure(ids, added) end
    if added == 0 then
      if redis.call('HGET', ids, h[9]) ~= h[10] then return {'conflict', h[9]} end
      return {'ok', redis.call('LLEN', list), 0, 0, s.owner or false, s.ttl or false}
    end
    fresh[1], payloads[1] = h[9], args[2]
    if h[11] ~= '0' then steps[1] = h[11] end
    if h[12] == '1' then pins = 1 end
  elseif n > 1 then
    local wanted = {}
    for k = 1, n do wanted[k] = h[5 + 4 * k] end
    local stored = {}
    for i = 1, n, CHUNK do
      local part = redis.pcall('HMGET', ids, unpack(wanted, i, math.min(i + CHUNK - 1, n)))
      if part['err'] then return failure(ids, part) end
      for j = 1, #part do stored[#stored + 1] = part[j] end
    end
    local new_ids = {}
    for k = 1, n do
      local at = 5 + 4 * k
      if not stored[k] then
        fresh[#fresh + 1], payloads[#payloads + 1] = h[at], args[k + 1]
        new_ids[#new_ids + 1], new_ids[#new_ids + 2] = h[at], h[at + 1]
        if h[at + 3] == '1' then pins = pins + 1 end
      elseif stored[k] ~= h[at + 1] then
        return {'conflict', h[at]}
      end
    end
    if #new_ids > 0 then
      local ok = redis.pcall('HSET', ids, unpack(new_ids, 1, math.min(2 * CHUNK, #new_ids)))
      if type(ok) == 'table' then return failure(ids, ok) end
      if #new_ids > 2 * CHUNK then chunked('HSET', ids, new_ids, 2 * CHUNK + 1, #new_ids) end
    end
    if #fresh == n then
      if h[7] ~= '0' then steps[1] = h[7] end
    else
      for k = 1, n do
        local at = 5 + 4 * k
        if not stored[k] and h[at + 2] ~= '0' then steps[#steps + 1] = h[at + 2] end
      end
    end
  end
  local count = #fresh
  if count == 0 then return {'ok', redis.call('LLEN', list), 0, 0, s.owner or false, s.ttl or false} end

  -- under a window, a tool result whose call the window already cut is cut too (counted, not stored)
  local window = tonumber(h[2])
  if window > 0 then
    local calls, kept = {}, {}
    for k = 1, #payloads do
      local answers = answers_of(payloads[k])
      if #answers == 0 or is_pinned(payloads[k]) or calls_present(list, answers, calls) then
        kept[#kept + 1] = payloads[k]
        add_calls(payloads[k], calls)
      end
    end
    payloads = kept
  end
  local pushed = #payloads

  -- counters first: they are what can overflow or be corrupted
  local done = {}
  for _, step in ipairs(steps) do
    local r = redis.pcall('HINCRBY', meta, 'token_count', step)
    if type(r) == 'table' then
      undo(meta, ids, fresh, done, 0, pin_field, 0)
      return failure(meta, r)
    end
    done[#done + 1] = step
  end
  local r = redis.pcall('HINCRBY', meta, 'message_count', count)
  if type(r) == 'table' then
    undo(meta, ids, fresh, done, 0, pin_field, 0)
    return failure(meta, r)
  end
  local pinned = tonumber(s.extra) or 0
  if pins > 0 then
    pinned = redis.pcall('HINCRBY', meta, pin_field, pins)
    if type(pinned) == 'table' then
      undo(meta, ids, fresh, done, count, pin_field, 0)
      return failure(meta, pinned)
    end
  end
  local len
  for i = 1, pushed, CHUNK do
    len = redis.pcall('RPUSH', list, unpack(payloads, i, math.min(i + CHUNK - 1, pushed)))
    if type(len) == 'table' then
      if i > 1 then redis.call('RPOP', list, i - 1) end
      undo(meta, ids, fresh, done, count, pin_field, pins)
      return failure(list, len)
    end
  end
  if pushed == 0 then len = redis.call('LLEN', list) end

  save_companions(meta, s)
  if window > 0 and len - pinned > window then trim(list, len, window, pinned) end
  local refreshed = touched(keys, s, h[1], pushed > 0 and len == pushed)
  return {'ok', len, count, refreshed, s.owner or false, s.ttl or false}
end
