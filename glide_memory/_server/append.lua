-- append: add messages to one of a session's lists, each applied at most once per id, with what
-- semantic recall needs of them.
-- KEYS: meta, chat, msgids, vec, vecmsg, companion keys..., then one search document key per
--       message that gets one (after the session's keys: only these are not refreshed)
-- ARGV[1]: tab-separated: now, window (0: none), owner ('': anyone), declared companions,
--          companion to register ('': none), index in KEYS of the list to append to,
--          total tokens, the meta field counting the list's pinned messages, the list's thread
--          ('': the main one), how many search document keys KEYS ends with, their grace in
--          seconds past the session's TTL; then per
--          message: id, digest, tokens, pinned (1/0), recall ('': none, 'c': a copy whose vector
--          comes later, 'v': a copy and its vector, 'd:<role>:<ts>': and a search document); last,
--          the session id (kept in search documents); or '=' for the common turn, whose
--          arguments follow below
-- ARGV[2...]: the messages' stored JSON, in order; then the vector record of each message that
--          has one, in order
-- or, for the common turn, ARGV = '=', now, window, owner, declared companions, then its one
--          message's id, digest, tokens, pinned flag and stored JSON
-- Reply: the list's length, for a common turn applied with no TTL refresh due
--      | {'ok', list length, messages applied, ttl refreshed (0/1), owner or false, ttl or false}
--      | {'missing'} | {'forbidden', owner} | {'stale', companions} | {'conflict', message id}
--      | {'error', key, the server's text}

local HEADER = 11 -- the fixed fields of ARGV[1] before the messages'
local PER_MESSAGE = 5

-- Undo the counters, ids and vectors an append wrote before a later write failed.
local function undo(keys, fresh, steps, count, pin_field, pins)
  local meta = keys[1]
  for _, step in ipairs(steps) do redis.call('HINCRBY', meta, 'token_count', '-' .. step) end
  if count > 0 then redis.call('HINCRBY', meta, 'message_count', -count) end
  if pins > 0 then redis.call('HINCRBY', meta, pin_field, -pins) end
  for _, id in ipairs(fresh) do redis.call('HDEL', keys[3], id) end
  forget_vectors(keys, fresh)
end

-- The common turn (ARGV[1] = '=') takes its fields as arguments of their own: parsing one packed
-- header cost its function more than the rest of its Lua. It appends to the main list (KEYS[2],
-- pinned count in the meta field 'pinned') and registers nothing, without recall.
local COMMON_TURN_ARGS = 10

-- A counter read as text, if Lua reads it as a whole number under 10^14: one it holds exactly and
-- hands back to the server in digits. The general path, with HINCRBY, handles the rest, and tells
-- a corrupted one (tonumber is the cheap test: a pattern match per counter cost a microsecond).
local function counter(text)
  if not text then return 0 end
  local n = tonumber(text)
  if n and n >= 0 and n < 1e14 and n % 1 == 0 then return n end
  return nil
end

-- The common turn, with no tables on its way and its bookkeeping in one HSET: a session whose
-- companions are the declared ones, and no tool result under a window. Returns nil, having
-- written nothing, for everything else (a repeat, a conflict, an error, a refusal, a counter
-- past 14 digits): the general path answers those. Counters go back as Lua numbers, which the
-- server writes as integers (string.format cost another microsecond).
local function append_one(keys, args, now, win, owner, declared, id, digest, tokens, pinned)
  local meta, ids, list = keys[1], keys[3], keys[2]
  local window = tonumber(win)
  if window > 0 and #answers_of(args[COMMON_TURN_ARGS]) > 0 then return nil end
  -- our sessions always hold ttl ('0': none); without it, the general path decides
  local m = redis.pcall('HMGET', meta, 'ttl', 'expires_at', 'user_id', 'companions', 'pinned', 'message_count',
                        'token_count')
  if m['err'] or not m[1] or not in_scope(owner, m[3]) or (m[4] or '') ~= declared then return nil end
  local pins, count, total, add = counter(m[5]), counter(m[6]), counter(m[7]), counter(tokens)
  if not (pins and count and total and add) then return nil end
  if redis.pcall('HSETNX', ids, id, digest) ~= 1 then return nil end
  local len = redis.pcall('RPUSH', list, args[COMMON_TURN_ARGS])
  if type(len) == 'table' then
    redis.call('HDEL', ids, id)
    return failure(list, len)
  end
  if pinned == '1' then
    pins = pins + 1
    redis.call('HSET', meta, 'message_count', count + 1, 'token_count', total + add, 'last_active', now,
               'pinned', pins)
  else
    redis.call('HSET', meta, 'message_count', count + 1, 'token_count', total + add, 'last_active', now)
  end
  if window > 0 and len - pins > window then trim(keys, list, len, window, pins) end
  local ttl = tonumber(m[1])
  if ttl > 0 then
    local at, expires_at = tonumber(now), tonumber(m[2])
    if len == 1 or not expires_at or expires_at - at < ttl - math.floor(ttl / 100) then
      refresh(keys, ttl, at)
      return {'ok', len, 1, 1, m[3] or false, ttl}
    end
  end
  return len
end

local function append(keys, args)
  local h
  if args[1] == '=' then -- the common turn
    if #args ~= COMMON_TURN_ARGS then return {'error', keys[1], 'append: a malformed common turn'} end
    local now, win, owner, declared, id, digest, tokens, pinned = unpack(args, 2, 9)
    local reply = append_one(keys, args, now, win, owner, declared, id, digest, tokens, pinned)
    if reply ~= nil then return reply end
    h = {now, win, owner, declared, '', '2', tokens, 'pinned', '', '0', '0', id, digest, tokens, pinned, '', ''}
    args = {'=', args[COMMON_TURN_ARGS]} -- where the general path reads its one message
  else
    h = split(args[1])
  end
  local meta, ids, list = keys[1], keys[3], keys[tonumber(h[6])]
  local pin_field = h[8]
  local s, refused = read_session(meta, h[3], h[4], h[5], pin_field)
  if not s then return refused end
  local n = math.floor((#h - HEADER) / PER_MESSAGE)
  local documents = tonumber(h[10])
  local last_session_key = #keys - documents

  -- which messages are new: a repeated id with the same digest was applied before
  local fresh, chosen, steps, pins = {}, {}, {}, 0
  if n == 1 then
    local at = HEADER
    local added = redis.pcall('HSETNX', ids, h[at + 1], h[at + 2])
    if type(added) == 'table' then return failure(ids, added) end
    if added == 0 then
      if redis.call('HGET', ids, h[at + 1]) ~= h[at + 2] then return {'conflict', h[at + 1]} end
      return {'ok', redis.call('LLEN', list), 0, 0, s.owner or false, s.ttl or false}
    end
    fresh[1], chosen[1] = h[at + 1], 1
    if h[at + 3] ~= '0' then steps[1] = h[at + 3] end
    if h[at + 4] == '1' then pins = 1 end
  elseif n > 1 then
    local wanted = {}
    for k = 1, n do wanted[k] = h[HEADER + PER_MESSAGE * (k - 1) + 1] end
    local stored = {}
    for i = 1, n, CHUNK do
      local part = redis.pcall('HMGET', ids, unpack(wanted, i, math.min(i + CHUNK - 1, n)))
      if part['err'] then return failure(ids, part) end
      for j = 1, #part do stored[#stored + 1] = part[j] end
    end
    local new_ids = {}
    for k = 1, n do
      local at = HEADER + PER_MESSAGE * (k - 1)
      if not stored[k] then
        fresh[#fresh + 1], chosen[#chosen + 1] = h[at + 1], k
        new_ids[#new_ids + 1], new_ids[#new_ids + 2] = h[at + 1], h[at + 2]
        if h[at + 4] == '1' then pins = pins + 1 end
        if h[at + 3] ~= '0' then steps[#steps + 1] = h[at + 3] end
      elseif stored[k] ~= h[at + 2] then
        return {'conflict', h[at + 1]}
      end
    end
    if #new_ids > 0 then
      local ok = redis.pcall('HSET', ids, unpack(new_ids, 1, math.min(2 * CHUNK, #new_ids)))
      if type(ok) == 'table' then return failure(ids, ok) end
      if #new_ids > 2 * CHUNK then chunked('HSET', ids, new_ids, 2 * CHUNK + 1, #new_ids) end
    end
    if #fresh == n and h[7] ~= '0' then steps = {h[7]} end
  end
  local count = #fresh
  if count == 0 then return {'ok', redis.call('LLEN', list), 0, 0, s.owner or false, s.ttl or false} end

  -- under a window, a tool result whose call the window already cut is cut too (counted, not stored)
  local window = tonumber(h[2])
  local kept = chosen
  if window > 0 then
    local calls = {}
    kept = {}
    for _, k in ipairs(chosen) do
      local payload = args[k + 1]
      local answers = answers_of(payload)
      if #answers == 0 or is_pinned(payload) or calls_present(list, answers, calls) then
        kept[#kept + 1] = k
        add_calls(payload, calls)
      end
    end
  end

  -- what recall needs, first: it is what may fail on a corrupted key, and it is undone with the ids
  local vector_arg, document_key = n + 1, last_session_key
  local expire_ms = 0
  if documents > 0 then
    local left = s.ttl and s.ttl > 0 and s.ttl * 1000 or redis.call('PTTL', meta)
    if left > 0 then expire_ms = left + tonumber(h[11]) * 1000 end
  end
  local is_kept = {}
  for _, k in ipairs(kept) do is_kept[k] = true end
  for k = 1, n do
    local flag = h[HEADER + PER_MESSAGE * (k - 1) + 5]
    if flag ~= '' then
      local record, doc = nil, nil
      if flag ~= 'c' then
        vector_arg = vector_arg + 1
        record = args[vector_arg]
      end
      if string.sub(flag, 1, 2) == 'd:' then
        document_key = document_key + 1
        local role, ts = string.match(flag, '^d:([^:]*):(.*)$')
        doc = search_document(keys[document_key], s.owner, h[HEADER + 1 + PER_MESSAGE * n], h[9], role, ts,
                              h[HEADER + PER_MESSAGE * (k - 1) + 1], record)
      end
      if is_kept[k] then
        local err = put_vector(keys, h[HEADER + PER_MESSAGE * (k - 1) + 1], h[9], args[k + 1], record, doc, expire_ms)
        if err then
          undo(keys, fresh, {}, 0, pin_field, 0)
          return err
        end
      end
    end
  end

  -- counters next: they are what can overflow or be corrupted
  local done = {}
  for _, step in ipairs(steps) do
    local r = redis.pcall('HINCRBY', meta, 'token_count', step)
    if type(r) == 'table' then
      undo(keys, fresh, done, 0, pin_field, 0)
      return failure(meta, r)
    end
    done[#done + 1] = step
  end
  local r = redis.pcall('HINCRBY', meta, 'message_count', count)
  if type(r) == 'table' then
    undo(keys, fresh, done, 0, pin_field, 0)
    return failure(meta, r)
  end
  local pinned = tonumber(s.extra) or 0
  if pins > 0 then
    pinned = redis.pcall('HINCRBY', meta, pin_field, pins)
    if type(pinned) == 'table' then
      undo(keys, fresh, done, count, pin_field, 0)
      return failure(meta, pinned)
    end
  end
  local payloads = {}
  for _, k in ipairs(kept) do payloads[#payloads + 1] = args[k + 1] end
  local pushed, len = #payloads, nil
  for i = 1, pushed, CHUNK do
    len = redis.pcall('RPUSH', list, unpack(payloads, i, math.min(i + CHUNK - 1, pushed)))
    if type(len) == 'table' then
      if i > 1 then redis.call('RPOP', list, i - 1) end
      undo(keys, fresh, done, count, pin_field, pins)
      return failure(list, len)
    end
  end
  if pushed == 0 then len = redis.call('LLEN', list) end

  save_companions(meta, s)
  if window > 0 and len - pinned > window then trim(keys, list, len, window, pinned) end
  local refreshed = touched(keys, s, h[1], pushed > 0 and len == pushed, last_session_key)
  return {'ok', len, count, refreshed, s.owner or false, s.ttl or false}
end
