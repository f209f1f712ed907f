-- Records the visitor's answer for one agent; a declined agent leaves.
-- KEYS[1] session key, KEYS[2] agents key
-- ARGV[1] agent id, ARGV[2] '1' accepted or '0' declined
-- Returns 'admitted', 'declined', 'already', 'gone' or 'never' (an id the
-- session never gave out).
local last = redis.call('HGET', KEYS[1], 'last_agent')
if not last then
  return 'gone'
end
local agent = tonumber(ARGV[1])
if agent == 0 or agent > tonumber(last) then
  return 'never'
end
local state = redis.call('HGET', KEYS[2], ARGV[1])
if not state then
  return 'gone'
end
if ARGV[2] == '1' then
  if state == 'admitted' then
    return 'already'
  end
  redis.call('HSET', KEYS[2], ARGV[1], 'admitted')
  return 'admitted'
end
-- Declining an admitted agent sends it away too: the visitor changed their mind.
redis.call('HDEL', KEYS[2], ARGV[1])
return 'declined'
