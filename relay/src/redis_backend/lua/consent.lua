-- Records the visitor's answer for one agent; a declined agent leaves.
-- KEYS[1] session key, KEYS[2] agents key
-- ARGV[1] agent id, ARGV[2] '1' accepted or '0' declined
-- Returns {'admitted', mode} (the mode asked for at join, which the visitor
-- was shown), {'declined'}, {'already'}, {'gone'} or {'never'} (an id the
-- session never gave out).
local last = redis.call('HGET', KEYS[1], 'last_agent')
if not last then
  return {'gone'}
end
local agent = tonumber(ARGV[1])
if agent == 0 or agent > tonumber(last) then
  return {'never'}
end
local entry = redis.call('HGET', KEYS[2], ARGV[1])
if not entry then
  return {'gone'}
end
local state, mode = string.match(entry, '^(%a+):(%a+)$')
if not state then
  return redis.error_reply('unexpected agent entry: ' .. entry)
end
if ARGV[2] == '1' then
  if state == 'admitted' then
    return {'already'}
  end
  redis.call('HSET', KEYS[2], ARGV[1], 'admitted:' .. mode)
  return {'admitted', mode}
end
-- Declining an admitted agent sends it away too: the visitor changed their mind.
redis.call('HDEL', KEYS[2], ARGV[1])
return {'declined'}
