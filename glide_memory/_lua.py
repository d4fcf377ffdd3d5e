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

# KEYS: chat, meta. Returns {keys deleted, owner's user id or false}.
DELETE = _script(
    """
local owner = redis.call('HGET', KEYS[2], 'user_id')
return {redis.call('DEL', KEYS[1], KEYS[2]), owner}
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
