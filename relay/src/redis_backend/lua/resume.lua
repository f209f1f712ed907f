-- Attaches a visitor again to a session waiting in its grace window (the
-- relay checked the token, in constant time, just before). Makes sure the
-- session has a live join code.
-- KEYS[1] session key, KEYS[2] agents key, KEYS[3] names key, KEYS[4] away key
-- ARGV[1] key prefix, ARGV[2] session id, ARGV[3] code ttl in ms,
-- ARGV[4..] candidate fresh codes (the first free one is taken if needed)
-- Returns {'unknown'} (gone, or its window passed), {'connected'} (a
-- visitor is attached), or {'ok', code or '', then id, mode, name (or '')
-- per admitted agent}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'unknown'}
end
if redis.call('HGET', KEYS[1], 'visitor') ~= 'away' then
  return {'connected'}
end
if redis.call('EXISTS', KEYS[4]) == 0 then
  -- The window passed; the watcher ends the session and tells its agents.
  return {'unknown'}
end
redis.call('DEL', KEYS[4])
redis.call('HSET', KEYS[1], 'visitor', 'here')
local code = redis.call('HGET', KEYS[1], 'code')
if code and redis.call('GET', ARGV[1] .. 'code:' .. code) ~= ARGV[2] then
  code = false
end
if not code then
  for i = 4, #ARGV do
    if redis.call('SET', ARGV[1] .. 'code:' .. ARGV[i], ARGV[2], 'NX', 'PX', ARGV[3]) then
      code = ARGV[i]
      break
    end
  end
  if code then
    redis.call('HSET', KEYS[1], 'code', code)
  else
    redis.call('HDEL', KEYS[1], 'code')
  end
end
local out = {'ok', code or ''}
local entries = redis.call('HGETALL', KEYS[2])
for i = 1, #entries, 2 do
  local state, mode = string.match(entries[i + 1], '^(%a+):(%a+)$')
  if state == 'admitted' then
    table.insert(out, entries[i])
    table.insert(out, mode)
    table.insert(out, redis.call('HGET', KEYS[3], entries[i]) or '')
  end
end
return out
