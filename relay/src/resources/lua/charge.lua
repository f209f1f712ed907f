-- Charges an upload against the session's budget, once per hash.
-- KEYS[1] session hash; ARGV[1] charge field ('c:' .. hash), ARGV[2] bytes,
-- ARGV[3] budget
-- Returns -1 when it fits (charged now or before), else the bytes already used.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return -1
end
local used = tonumber(redis.call('HGET', KEYS[1], 'used') or '0')
if used + tonumber(ARGV[2]) > tonumber(ARGV[3]) then
  return used
end
redis.call('HINCRBY', KEYS[1], 'used', ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return -1
