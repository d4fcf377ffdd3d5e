"""The server-side scripts behind the store's atomic operations.

Each script checks everything that could fail before its first write, so an
error leaves the session as it was (Lua scripts do not roll back). Errors a
script raises on stored data start with ``CORRUPT_TAG`` and name the key.
"""

from __future__ import annotations

from glide import Script

CORRUPT_TAG = "GLIDE_MEMORY_CORRUPT"


def _script(code: str) -> Script:
    return Script(code)  # type: ignore[no-untyped-call]  # glide's Script is untyped


# Shared helpers, prepended to the scripts that need them.
_HELPERS = f"""
local function corrupt(key, detail)
  return redis.error_reply('{CORRUPT_TAG}\\t' .. key .. '\\t' .. detail)
end
-- Refresh the TTL of a session's keys: the session's own ttl field, or else
-- the meta key's remaining time, so that chat and meta expire together.
local function refresh(chat, meta)
  local ttl = tonumber(redis.call('HGET', meta, 'ttl'))
  if ttl and ttl > 0 then
    redis.call('EXPIRE', meta, ttl)
    redis.call('EXPIRE', chat, ttl)
  else
    local left = redis.call('PTTL', meta)
    if left > 0 then redis.call('PEXPIRE', chat, left) end
  end
end
"""

# KEYS: meta, chat[, user index]. ARGV: ttl seconds (0: none), session id, field, value, ...
# Returns 1 when created, 0 when the id is taken.
CREATE = _script(
    _HELPERS
    + """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
if KEYS[3] then
  local t = redis.call('TYPE', KEYS[3])['ok']
  if t ~= 'none' and t ~= 'set' then return corrupt(KEYS[3], 'is a ' .. t .. ', not a set') end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
if KEYS[3] then redis.call('SADD', KEYS[3], ARGV[2]) end
return 1
"""
)

# KEYS: chat, meta. ARGV: now, tokens, window (0: none), payload, ...
# Returns the list length after the push (before trimming), or -1 when the
# session does not exist. Writes that can fail run first, under pcall, and
# are undone if a later one fails, so a failure leaves nothing behind.
APPEND = _script(
    _HELPERS
    + """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local count = #ARGV - 3
local len
if count == 0 then
  len = redis.pcall('LLEN', KEYS[1])
else
  for i = 4, #ARGV, 1000 do
    len = redis.pcall('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
    if type(len) == 'table' then
      if i > 4 then redis.call('RPOP', KEYS[1], i - 4) end
      return corrupt(KEYS[1], len['err'])
    end
  end
end
if type(len) == 'table' then return corrupt(KEYS[1], len['err']) end
local r = redis.pcall('HINCRBY', KEYS[2], 'message_count', count)
if type(r) == 'table' then
  if count > 0 then redis.call('RPOP', KEYS[1], count) end
  return corrupt(KEYS[2], 'message_count: ' .. r['err'])
end
r = redis.pcall('HINCRBY', KEYS[2], 'token_count', ARGV[2])
if type(r) == 'table' then
  if count > 0 then redis.call('RPOP', KEYS[1], count) end
  redis.call('HINCRBY', KEYS[2], 'message_count', -count)
  return corrupt(KEYS[2], 'token_count: ' .. r['err'])
end
redis.call('HSET', KEYS[2], 'last_active', ARGV[1])
local window = tonumber(ARGV[3])
if window > 0 and len > window then redis.call('LTRIM', KEYS[1], -window, -1) end
refresh(KEYS[1], KEYS[2])
return len
"""
)

# KEYS: chat, meta. ARGV: start (0 or negative), take (0 to read nothing).
# Returns {LLEN, {items}} or nil when the session does not exist.
READ = _script(
    """
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
local len = redis.call('LLEN', KEYS[1])
if ARGV[2] == '0' then return {len, {}} end
return {len, redis.call('LRANGE', KEYS[1], ARGV[1], -1)}
"""
)

# KEYS: chat, meta. ARGV: index. Returns {LLEN, item or false} or nil.
READ_ONE = _script(
    """
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
return {redis.call('LLEN', KEYS[1]), redis.call('LINDEX', KEYS[1], ARGV[1])}
"""
)

# KEYS: chat, meta. ARGV: token budget, most messages (0: no limit).
# Walks back from the newest message while the tokens fit the budget.
# Returns {index of the first item taken, {items oldest first}} or nil.
WINDOW = _script(
    """
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
local len = redis.call('LLEN', KEYS[1])
local budget = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if limit <= 0 then limit = len end
local newest_first = {}
local used = 0
local stop = len - 1
local full = false
while stop >= 0 and not full do
  local start = math.max(0, stop - 63)
  local page = redis.call('LRANGE', KEYS[1], start, stop)
  for i = #page, 1, -1 do
    -- an undecodable entry counts as 0 tokens; the client reports it
    local ok, doc = pcall(cjson.decode, page[i])
    local tokens = 0
    if ok and type(doc) == 'table' and type(doc['tokens']) == 'number' then tokens = doc['tokens'] end
    if #newest_first >= limit or used + tokens > budget then full = true break end
    used = used + tokens
    newest_first[#newest_first + 1] = page[i]
  end
  stop = start - 1
end
local items = {}
for i = #newest_first, 1, -1 do items[#items + 1] = newest_first[i] end
return {len - #items, items}
"""
)

# KEYS: meta. ARGV: number of pairs to set, field, value, ..., fields to delete ...
# Returns 1, or 0 when the session does not exist.
UPDATE = _script(
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local pairs_end = 1 + 2 * tonumber(ARGV[1])
if pairs_end > 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2, pairs_end)) end
if #ARGV > pairs_end then redis.call('HDEL', KEYS[1], unpack(ARGV, pairs_end + 1)) end
return 1
"""
)

# KEYS: chat, meta. ARGV: now, ttl seconds (0: keep the session's).
# Returns 1, or 0 when the session does not exist.
TOUCH = _script(
    _HELPERS
    + """
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'last_active', ARGV[1])
if tonumber(ARGV[2]) > 0 then redis.call('HSET', KEYS[2], 'ttl', ARGV[2]) end
refresh(KEYS[1], KEYS[2])
return 1
"""
)

# KEYS: chat, meta. Returns the number of messages removed, or -1 when the
# session does not exist.
CLEAR = _script(
    """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
local n = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n
"""
)

# KEYS: user index, meta, meta, ... ARGV: user id, session id, session id, ...
# Removes each listed session from the index unless it exists and belongs to
# the user (checked again here, atomically, in case it was just created).
PRUNE = _script(
    """
local removed = 0
for i = 2, #KEYS do
  if redis.call('HGET', KEYS[i], 'user_id') ~= ARGV[1] then
    removed = removed + redis.call('SREM', KEYS[1], ARGV[i])
  end
end
return removed
"""
)


# -- Strands Agents sessions ----------------------------------------------
# KEYS of every script below start with: meta, agents, multi-agents.
# ARGV[1] is the prefix of the agents' message lists (the agent id follows);
# the lists' names come from the agents HASH, whose fields are agent ids
# plus one "<id>\0created_at" field per agent. All keys share one slot.

_STRANDS_HELPERS = """
local function agent_lists(agents, prefix)
  local lists = {}
  for _, field in ipairs(redis.call('HKEYS', agents)) do
    if not string.find(field, '\\0', 1, true) then lists[#lists + 1] = prefix .. field end
  end
  return lists
end
-- Refresh the TTL of every key of the session from the meta's ttl field.
local function refresh_all(meta, agents, multi, prefix)
  local ttl = tonumber(redis.call('HGET', meta, 'ttl'))
  if not ttl or ttl <= 0 then return end
  redis.call('EXPIRE', meta, ttl)
  redis.call('EXPIRE', agents, ttl)
  redis.call('EXPIRE', multi, ttl)
  for _, list in ipairs(agent_lists(agents, prefix)) do redis.call('EXPIRE', list, ttl) end
end
"""

# ARGV: prefix, now, agent id, agent JSON, created_at, "create" or "update".
# Returns 1, 0 when updating an agent that does not exist, -1 without session.
STRANDS_PUT_AGENT = _script(
    _STRANDS_HELPERS
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[6] == 'create' then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4], ARGV[3] .. '\\0created_at', ARGV[5])
elseif redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then
  return 0
else
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
end
redis.call('HSET', KEYS[1], 'last_active', ARGV[2])
refresh_all(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
return 1
"""
)

# ARGV: prefix, now, multi-agent id, state JSON, "create" or "update".
# Returns 1, 0 when updating a state that does not exist, -1 without session.
STRANDS_PUT_MULTI = _script(
    _STRANDS_HELPERS
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[5] ~= 'create' and redis.call('HEXISTS', KEYS[3], ARGV[3]) == 0 then return 0 end
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[1], 'last_active', ARGV[2])
refresh_all(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
return 1
"""
)

# KEYS: meta, agents, multi-agents, the agent's list.
# ARGV: prefix, now, agent id, message id, entry.
# Returns the list length; -1 without session, -2 without agent, -3 when the
# id is taken by another message, -4 when the id skips ahead of the list.
STRANDS_APPEND = _script(
    _STRANDS_HELPERS
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then return -2 end
local len = redis.call('LLEN', KEYS[4])
local id = tonumber(ARGV[4])
if id < len then
  -- a retried write of a message already stored is a no-op
  local ok, doc = pcall(cjson.decode, redis.call('LINDEX', KEYS[4], id))
  if ok and type(doc) == 'table' and doc['id'] == ARGV[4] then return len end
  return -3
end
if id > len then return -4 end
len = redis.call('RPUSH', KEYS[4], ARGV[5])
redis.call('HINCRBY', KEYS[1], 'message_count', 1)
redis.call('HSET', KEYS[1], 'last_active', ARGV[2])
refresh_all(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
return len
"""
)

# KEYS: meta, agents, multi-agents, the agent's list.
# ARGV: prefix, now, message id, entry. Returns 1, or 0 when no message has that id.
STRANDS_REPLACE = _script(
    _STRANDS_HELPERS
    + """
local entry = redis.call('LINDEX', KEYS[4], ARGV[3])
if not entry then return 0 end
local ok, doc = pcall(cjson.decode, entry)
if not ok or type(doc) ~= 'table' or doc['id'] ~= ARGV[3] then return 0 end
redis.call('LSET', KEYS[4], ARGV[3], ARGV[4])
redis.call('HSET', KEYS[1], 'last_active', ARGV[2])
refresh_all(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
return 1
"""
)

# KEYS: chat, meta[, agents, multi-agents]. ARGV: [prefix of agent message lists].
# Deletes every key of the session, Strands adapter keys included when named;
# returns {keys deleted, owner's user id or false}.
DELETE = _script(
    _STRANDS_HELPERS
    + """
local owner = redis.call('HGET', KEYS[2], 'user_id')
local doomed = {KEYS[1], KEYS[2]}
if KEYS[3] then
  doomed = agent_lists(KEYS[3], ARGV[1])
  for i = 1, 4 do doomed[#doomed + 1] = KEYS[i] end
end
local deleted = 0
for i = 1, #doomed, 500 do
  deleted = deleted + redis.call('DEL', unpack(doomed, i, math.min(i + 499, #doomed)))
end
return {deleted, owner}
"""
)
