-- index_add: put a session in its user's index (a separate call on clusters,
-- where the index lives in another slot than the session).
-- KEYS: user index
-- ARGV: session id, ttl seconds ('0': never expires), margin seconds
-- Reply: {'ok'}
local function index_add_fn(keys, args)
  index_add(keys[1], args[1], tonumber(args[2]), tonumber(args[3]))
  return {'ok'}
end
