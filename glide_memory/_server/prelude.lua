-- Shared by every function of the library. Conventions:
--   * every key a function touches arrives in KEYS; no key name is built here.
--     Functions that write a session take its keys in one layout:
--     KEYS = meta, chat, msgids, vec, vecmsg, then one key per companion name
--     the caller declares (ARGV: the names, comma-separated, sorted);
--   * vec and vecmsg hold what semantic recall needs, per message id: its
--     vector record, and a copy of it (its thread's name, NUL, its stored JSON).
--     A copy without a vector is a message whose vector is still to come.
--     Whatever removes a message removes both (forget_vectors);
--   * a reply is a table whose first element is a tag: 'ok', 'missing',
--     'forbidden', 'stale', 'exists', 'conflict', 'moved', 'error' (TAGS in
--     _transport/_errors.py says what each means; the Python wrapper next to
--     each call turns it into a value or an exception);
--   * every write that can fail runs under pcall before later writes, and
--     earlier writes are undone if it fails, so a failure leaves no trace;
--   * variable-length argument lists go through unpack in chunks (Lua's
--     stack takes about 8,000 values).

local CHUNK = 1000

-- Split a tab-separated argument (callers pack fixed arguments into one: each
-- argument costs the client more than the server's split does).
local function split(text)
  local out, start = {}, 1
  while true do
    local at = string.find(text, '\t', start, true)
    if not at then
      out[#out + 1] = string.sub(text, start)
      return out
    end
    out[#out + 1] = string.sub(text, start, at - 1)
    start = at + 1
  end
end

-- Call command(key, list[first..last]) in chunks of CHUNK values; return the last reply.
local function chunked(command, key, list, first, last)
  local reply
  for i = first, last, CHUNK do
    reply = redis.call(command, key, unpack(list, i, math.min(i + CHUNK - 1, last)))
  end
  return reply
end

-- Turn the error table of a failed redis.pcall into a tagged reply: the server's own text, which the
-- client classifies with the same table as every other server error (_transport/_errors.py).
local function failure(key, err)
  return {'error', key, err['err'] or tostring(err)}
end

-- The scope rule, the one owner check: the scope `owner` ('': the whole store) may act on a session
-- whose user_id is `found`. A session nobody owns is in no user's scope.
local function in_scope(owner, found)
  return owner == '' or found == owner
end

-- Whether the scope `owner` may act on the session of `meta`: nil if it may, else the reply to send back.
local function refusal(meta, owner)
  if owner == '' then return nil end
  local found = redis.pcall('HGET', meta, 'user_id')
  if type(found) == 'table' then return failure(meta, found) end
  if in_scope(owner, found) then return nil end
  if not found and redis.call('EXISTS', meta) == 0 then return {'missing'} end
  return {'forbidden', found or false}
end

-- Read the fields every write needs. Returns the session's state, or nil
-- and the reply to send back when it is missing, belongs to someone else,
-- its meta is not a hash, or the caller's companions are not the stored
-- ones (plus `register`, a companion this call adds): the caller then calls
-- again with the stored list. Sessions written by other code may lack our
-- fields: then EXISTS decides whether the session is there.
-- `extra` names one more meta field to read (its value lands in s.extra).
local function read_session(meta, owner, declared, register, extra)
  local m = redis.pcall('HMGET', meta, 'ttl', 'expires_at', 'user_id', 'created_at', 'companions', extra or 'ttl')
  if m['err'] then return nil, failure(meta, m) end
  if not (m[3] or m[4] or m[1]) and redis.call('EXISTS', meta) == 0 then return nil, {'missing'} end
  if not in_scope(owner, m[3]) then return nil, {'forbidden', m[3] or false} end
  local s = {ttl = tonumber(m[1]), expires_at = tonumber(m[2]), owner = m[3], companions = m[5] or '', extra = m[6]}
  s.after = s.companions
  if register and register ~= '' then
    local names = {}
    local known = false
    for name in string.gmatch(s.companions, '[^,]+') do
      names[#names + 1] = name
      if name == register then known = true end
    end
    if not known then
      names[#names + 1] = register
      table.sort(names)
      s.after = table.concat(names, ',')
    end
  end
  if declared and declared ~= s.after then return nil, {'stale', s.companions} end
  return s
end

-- Record a newly registered companion (read_session computed the new list).
local function save_companions(meta, s)
  if s.after ~= s.companions then redis.call('HSET', meta, 'companions', s.after) end
end

-- Whether the TTL of a session's keys is due for a refresh. It is skipped
-- while the keys still have more than 99% of their TTL left (for a 24 h TTL:
-- a refresh at most every 14 minutes of activity); always done for a TTL
-- under 100 s, and when a key was just created.
local function refresh_due(s, now, created)
  if not s.ttl or s.ttl <= 0 then return false end
  if created or not s.expires_at then return true end
  return s.expires_at - now < s.ttl - math.floor(s.ttl / 100)
end

-- Give the session's keys (KEYS[1..last], meta first) the session's TTL and record when it ends.
local function refresh(keys, ttl, now, last)
  redis.call('HSET', keys[1], 'expires_at', string.format('%.3f', now + ttl))
  for i = 1, last or #keys do redis.call('EXPIRE', keys[i], ttl) end
end

-- Sessions without our ttl field (the cookbook's) keep their keys on the meta's clock.
local function follow_meta(keys, last)
  local left = redis.call('PTTL', keys[1])
  if left > 0 then
    for i = 2, last or #keys do redis.call('PEXPIRE', keys[i], left) end
  end
end

-- The activity bookkeeping every write ends with: last_active, and the TTL of
-- the session's keys (KEYS[1..last]) when due. Returns 1 when the TTL was refreshed.
local function touched(keys, s, now_text, created, last)
  local now = tonumber(now_text)
  redis.call('HSET', keys[1], 'last_active', now_text)
  if refresh_due(s, now, created) then
    refresh(keys, s.ttl, now, last)
    return 1
  end
  if not s.ttl then follow_meta(keys, last) end
  return 0
end

-- Add a session to its user's index; the index outlives the sessions in it
-- by `margin` seconds and is kept forever once it holds one that never expires.
local function index_add(index, session_id, ttl, margin)
  local fresh = redis.call('EXISTS', index) == 0
  redis.call('SADD', index, session_id)
  if ttl <= 0 then
    redis.call('PERSIST', index)
  elseif fresh then
    redis.call('EXPIRE', index, ttl + margin)
  else
    redis.call('EXPIRE', index, ttl + margin, 'GT')
  end
end

-- Decode a stored entry; nil if it is not a JSON object (other writers' data).
local function decoded(entry)
  local ok, doc = pcall(cjson.decode, entry)
  if ok and type(doc) == 'table' then return doc end
  return nil
end

-- Whether an entry is pinned: kept by every window.
local function is_pinned(entry)
  if not string.find(entry, '"pinned":true', 1, true) then return false end
  local doc = decoded(entry)
  return doc ~= nil and doc['pinned'] == true
end

-- Whether an entry holds tool results, so it must not open a window without its call.
local function is_result(entry)
  if not string.find(entry, 'tool', 1, true) then return false end
  local doc = decoded(entry)
  if doc == nil or doc['pinned'] == true then return false end
  local hint = doc['tool']
  return hint == 'result' or hint == 'both' or doc['role'] == 'tool'
end

-- The tokens an entry accounted (0 when it says nothing or does not decode).
local function tokens_of(entry)
  local doc = decoded(entry)
  if doc ~= nil and type(doc['tokens']) == 'number' then return doc['tokens'] end
  return 0
end

-- Move the entries at `positions` (0-based, ascending) out of `list`: LSET a marker, LREM it.
local GONE = '\0glide-memory:removed\0'
local function remove_at(list, positions)
  for _, at in ipairs(positions) do redis.call('LSET', list, at, GONE) end
  if #positions > 0 then redis.call('LREM', list, 0, GONE) end
end

-- Whether an entry's tool hint (what the client stored in "tool") is one of `a` or `b`.
local function hinted(entry, a, b)
  return string.find(entry, '"tool":"' .. a .. '"', 1, true) ~= nil
    or (b ~= nil and string.find(entry, '"tool":"' .. b .. '"', 1, true) ~= nil)
end

-- The ids of the tool calls a decoded entry makes, and of the calls it answers: OpenAI's tool_calls
-- and tool messages, Anthropic's tool_use/tool_result blocks, Converse's toolUse/toolResult blocks.
local function tool_ids(doc)
  local calls, answers = {}, {}
  if type(doc['tool_calls']) == 'table' then
    for _, c in ipairs(doc['tool_calls']) do
      if type(c) == 'table' and type(c['id']) == 'string' then calls[#calls + 1] = c['id'] end
    end
  end
  if doc['role'] == 'tool' and type(doc['tool_call_id']) == 'string' then answers[#answers + 1] = doc['tool_call_id'] end
  if type(doc['content']) == 'table' then
    for _, b in ipairs(doc['content']) do
      if type(b) == 'table' then
        if b['type'] == 'tool_use' and type(b['id']) == 'string' then calls[#calls + 1] = b['id'] end
        if b['type'] == 'tool_result' and type(b['tool_use_id']) == 'string' then
          answers[#answers + 1] = b['tool_use_id']
        end
        local use, result = b['toolUse'], b['toolResult']
        if type(use) == 'table' and type(use['toolUseId']) == 'string' then calls[#calls + 1] = use['toolUseId'] end
        if type(result) == 'table' and type(result['toolUseId']) == 'string' then
          answers[#answers + 1] = result['toolUseId']
        end
      end
    end
  end
  return calls, answers
end

-- The ids of the calls an entry answers (empty for one that is no tool result, or does not decode).
local function answers_of(entry)
  if not hinted(entry, 'result', 'both') then return {} end
  local doc = decoded(entry)
  if doc == nil then return {} end
  local _, answers = tool_ids(doc)
  return answers
end

-- Add the ids of the calls an entry makes to the set `into`.
local function add_calls(entry, into)
  if not hinted(entry, 'call', 'both') then return end
  local doc = decoded(entry)
  if doc == nil then return end
  local calls = tool_ids(doc)
  for _, id in ipairs(calls) do into[id] = true end
end

-- Whether each id of `ids` is a call made by an entry of `list`, looking from the newest back (calls
-- are recent). `known` holds calls already known to be there.
local function calls_present(list, ids, known)
  local wanted, missing = {}, 0
  for _, id in ipairs(ids) do
    if not known[id] and not wanted[id] then wanted[id], missing = true, missing + 1 end
  end
  local stop = redis.call('LLEN', list) - 1
  while missing > 0 and stop >= 0 do
    local start = math.max(0, stop - 31)
    local page = redis.call('LRANGE', list, start, stop)
    for i = #page, 1, -1 do
      local found = {}
      add_calls(page[i], found)
      for id in pairs(found) do
        if wanted[id] then wanted[id], missing = nil, missing - 1 end
      end
    end
    stop = start - 1
  end
  return missing == 0
end

-- Remove the vectors and copies of the messages with these ids (nothing to do in sessions never embedded).
local function forget_vectors(keys, ids)
  if #ids == 0 or redis.call('EXISTS', keys[5]) == 0 then return end
  for i = 1, #ids, CHUNK do
    local part = {unpack(ids, i, math.min(i + CHUNK - 1, #ids))}
    redis.call('HDEL', keys[4], unpack(part))
    redis.call('HDEL', keys[5], unpack(part))
  end
end

-- The ids of stored entries (entries written by other code without one are skipped).
local function ids_of(entries)
  local ids = {}
  for i = 1, #entries do
    local doc = string.find(entries[i], '"id":', 1, true) and decoded(entries[i])
    if doc and type(doc['id']) == 'string' then ids[#ids + 1] = doc['id'] end
  end
  return ids
end

-- Remove from `list` the tool results that answer a call of `gone` (calls a window dropped), so the
-- stored list never holds a result without its call. Returns the entries removed.
local function drop_answers(list, gone)
  if next(gone) == nil then return {} end
  local positions, removed, len = {}, {}, redis.call('LLEN', list)
  for start = 0, len - 1, 64 do
    local page = redis.call('LRANGE', list, start, start + 63)
    for i = 1, #page do
      for _, id in ipairs(answers_of(page[i])) do
        if gone[id] then
          positions[#positions + 1] = start + i - 1
          removed[#removed + 1] = page[i]
          break
        end
      end
    end
  end
  remove_at(list, positions)
  return removed
end

-- Keep the newest `window` unpinned entries of `list` (`len` long, `pinned` of them pinned). Pinned
-- entries are never cut: older ones move to the front, in order. The tool results of every call cut
-- go too, and so do results left opening the list, so no result is kept without its call; the
-- vectors of whatever is cut go with it (`keys`: the session's layout).
local function trim(keys, list, len, window, pinned)
  local excess = len - pinned - window
  if excess <= 0 then return end
  local gone, cut, front = {}, {}, 0
  if pinned == 0 then
    cut = redis.call('LRANGE', list, 0, excess - 1)
    for i = 1, #cut do add_calls(cut[i], gone) end
    redis.call('LTRIM', list, excess, -1)
  else
    local kept, position, done = {}, 0, false
    while not done and position < len do
      local page = redis.call('LRANGE', list, position, position + 63)
      for i = 1, #page do
        local entry = page[i]
        if is_pinned(entry) then
          kept[#kept + 1] = entry
        elseif #cut < excess then
          cut[#cut + 1] = entry
          add_calls(entry, gone)
        else
          done = true
          break
        end
        position = position + 1
      end
      if #page == 0 then break end
    end
    redis.call('LTRIM', list, position, -1)
    for i = #kept, 1, -CHUNK do
      local args = {}
      for j = i, math.max(1, i - CHUNK + 1), -1 do args[#args + 1] = kept[j] end
      redis.call('LPUSH', list, unpack(args))
    end
    front = #kept
  end
  -- nor does a result open what is kept: one whose call was cut, or that names none, goes too
  local leading, at = {}, front
  while true do
    local entry = redis.call('LINDEX', list, at)
    if not entry or (not is_pinned(entry) and not is_result(entry)) then break end
    if not is_pinned(entry) then
      leading[#leading + 1] = at
      cut[#cut + 1] = entry
      add_calls(entry, gone)
    end
    at = at + 1
  end
  remove_at(list, leading)
  for _, entry in ipairs(drop_answers(list, gone)) do cut[#cut + 1] = entry end
  if redis.call('EXISTS', keys[5]) == 1 then forget_vectors(keys, ids_of(cut)) end
end

-- Operations that are not naturally idempotent (pop, a count of what was
-- removed, a conditional write) carry an id chosen once per call; the ops
-- HASH of the session (KEYS' last) remembers each one's reply for OPS_KEEP
-- seconds, so a retry of an applied attempt gets the first reply instead of
-- acting again. The hash never outlives the session's meta.
local OPS_KEEP = 600

-- The reply an earlier attempt of operation `op` stored, or nil.
local function op_result(ops, op)
  if op == '' then return nil end
  local r = redis.call('HGET', ops, op)
  if not r then return nil end
  return string.sub(r, string.find(r, '|', 1, true) + 1)
end

-- Remember the reply of operation `op` (call last: it sets the hash's TTL).
local function op_save(ops, meta, op, now, reply)
  if op == '' then return end
  redis.call('HSET', ops, op, now .. '|' .. reply)
  if redis.call('HLEN', ops) > 64 then
    local all = redis.call('HGETALL', ops)
    local oldest = tonumber(now) - OPS_KEEP
    for i = 1, #all, 2 do
      local at = tonumber(string.sub(all[i + 1], 1, string.find(all[i + 1], '|', 1, true) - 1))
      if not at or at < oldest then redis.call('HDEL', ops, all[i]) end
    end
  end
  local keep, left = OPS_KEEP * 1000, redis.call('PTTL', meta)
  if left > 0 and left < keep then keep = left end
  redis.call('PEXPIRE', ops, keep)
end

-- Drop a removed entry's id (it may be stored again), its pin from the count, and its vector.
local function forget(keys, pin_field, entry)
  local doc = decoded(entry)
  if doc == nil then return end
  if type(doc['id']) == 'string' then
    redis.call('HDEL', keys[3], doc['id'])
    forget_vectors(keys, {doc['id']})
  end
  if doc['pinned'] == true then redis.call('HINCRBY', keys[1], pin_field, -1) end
end

-- The fields of a message's search document (HSET arguments, key first): TAGs hold SHA-1 digests of
-- the owner, session and thread (never raw ids, which TAG syntaxes would need to escape), 'main' for
-- the main conversation; `record` is the vector record (a 24-byte header, then the float32 vector).
local function search_document(key, owner, session_id, thread, role, ts, message_id, record)
  return {key, 'uid', redis.sha1hex(owner or ''), 'sid', redis.sha1hex(session_id),
          'thread', thread == '' and 'main' or redis.sha1hex(thread), 'role', role, 'ts', ts,
          'mid', message_id, 'sess', session_id, 'vec', string.sub(record, 25)}
end

-- Write what recall needs of one message: its copy (thread NUL JSON), its vector record when it has
-- one, and its search document when the store indexes one (`doc`: {key, fields...}), which expires in
-- `expire_ms` milliseconds (0: never).
local function put_vector(keys, id, thread, payload, record, doc, expire_ms)
  local r = redis.pcall('HSET', keys[5], id, thread .. '\0' .. payload)
  if type(r) == 'table' then return failure(keys[5], r) end
  if record then
    r = redis.pcall('HSET', keys[4], id, record)
    if type(r) == 'table' then return failure(keys[4], r) end
  end
  if doc then
    r = redis.pcall('HSET', unpack(doc))
    if type(r) == 'table' then return failure(doc[1], r) end
    if expire_ms and expire_ms > 0 then redis.call('PEXPIRE', doc[1], expire_ms) end
  end
  return nil
end
