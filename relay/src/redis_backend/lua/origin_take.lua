-- Gives a new session a slot of its page origin, unless the origin already
-- has its limit of live sessions. Members whose session key is gone (ended
-- on a relay that died before freeing the slot, or expired) are dropped
-- first, so the count is always of live sessions.
-- KEYS[1] the origin's set
-- ARGV[1] key prefix, ARGV[2] session id, ARGV[3] limit, ARGV[4] ttl in ms
-- (the set outlives its relays by that much; they renew it while they
-- serve one of its sessions)
-- Returns 1 if the slot was taken, 0 if the origin is full.
local live = 0
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. 'session:' .. member) == 1 then
    live = live + 1
  else
    redis.call('SREM', KEYS[1], member)
  end
end
if live >= tonumber(ARGV[3]) and redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 0 then
  return 0
end
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
