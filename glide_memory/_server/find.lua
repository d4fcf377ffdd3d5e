-- find: a stored message by its id (read-only), looking from the newest back.
-- KEYS: list, meta
-- ARGV: message id, owner ('': anyone)
-- Reply: {'ok', position, entry} | {'ok', false, false} when no stored message has the id
--      | {'missing'} | {'forbidden', owner}
local function find(keys, args)
  local refused = refusal(keys[2], args[2])
  if refused then return refused end
  local list, wanted = keys[1], args[1]
  local stop = redis.call('LLEN', list) - 1
  while stop >= 0 do
    local start = math.max(0, stop - 63)
    local page = redis.call('LRANGE', list, start, stop)
    for i = #page, 1, -1 do
      if string.find(page[i], wanted, 1, true) then
        local doc = decoded(page[i])
        if doc ~= nil and doc['id'] == wanted then return {'ok', start + i - 1, page[i]} end
      end
    end
    stop = start - 1
  end
  return {'ok', false, false}
end
