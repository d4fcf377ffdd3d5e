-- import_list: append one page of an import's entries to a list, once. The caller says how long
-- the list was before the page, so a retried page that was applied is recognised, not appended again.
-- KEYS: list
-- ARGV: length before the page, entries...
-- Reply: {'ok', 1 appended | 0 it was already} | {'moved', length}: someone else wrote to the list
local function import_list(keys, args)
  local list, before, n = keys[1], tonumber(args[1]), #args - 1
  local len = redis.call('LLEN', list)
  if len == before + n and n > 0 and redis.call('LINDEX', list, -1) == args[#args] then return {'ok', 0} end
  if len ~= before then return {'moved', len} end
  chunked('RPUSH', list, args, 2, #args)
  return {'ok', 1}
end
