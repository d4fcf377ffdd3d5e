-- vec_put: write the vector of a message stored earlier (deferred embedding, a catch-up), once: only
-- while the message is still stored as it was read (a message cut or edited meanwhile gets none).
-- KEYS: meta, the message's list, vec, vecmsg[, its search document]
-- ARGV: owner ('': anyone), the stored JSON read, message id, thread, vector record, then for the
--       search document: its time to live in ms (0: none), role, ts, session id
-- Reply: {'ok', 1 written | 0 the message is gone} | {'missing'} | {'forbidden', owner}
local function vec_put(keys, args)
  local refused = refusal(keys[1], args[1])
  if refused then return refused end
  if redis.call('EXISTS', keys[1]) == 0 then return {'missing'} end
  if not redis.call('LPOS', keys[2], args[2]) then return {'ok', 0} end
  local doc = nil
  if keys[5] then
    doc = search_document(keys[5], redis.call('HGET', keys[1], 'user_id'), args[9], args[4], args[7], args[8],
                          args[3], args[5])
  end
  local layout = {keys[1], keys[2], keys[2], keys[3], keys[4]}
  local err = put_vector(layout, args[3], args[4], args[2], args[5], doc, tonumber(args[6] or '0'))
  if err then return err end
  return {'ok', 1}
end
