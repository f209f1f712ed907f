-- Attaches a visitor again to a session waiting in its grace window, or
-- takes a live session over from the visitor connection attached to it (the
-- relay checked the token, in constant time, just before). The new
-- connection's attachment number is the session's next. Makes sure the
-- session has a live join code.
-- KEYS[1] session key, KEYS[2] agents key, KEYS[3] names key, KEYS[4] away key
-- ARGV[1] key prefix, ARGV[2] session id, ARGV[3] code ttl in ms,
-- ARGV[4..] candidate fresh codes (the first free one is taken if needed)
-- Returns {'unknown'} (gone, or its window passed), or {'ok', attachment,
-- '1' if it took over from an attached connection else '0', code or '',
-- then id, mode, name (or '') per admitted agent}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'unknown'}
end
local took_over = '1'
if redis.call('HGET', KEYS[1], 'visitor') == 'away' then
  if redis.call('EXISTS', KEYS[4]) == 0 then
    -- The window passed; the watcher ends the session and tells its agents.
    return {'unknown'}
  end
  took_over = '0'
  redis.call('DEL', KEYS[4])
  redis.call('HSET', KEYS[1], 'visitor', 'here')
end
local attachment = redis.call('HINCRBY', KEYS[1], 'attachment', 1)
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
local out = {'ok', tostring(attachment), took_over, code or ''}
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
