-- Appends an upload chunk if it starts where the held bytes end.
-- KEYS[1] session hash, KEYS[2] upload key
-- ARGV[1] marker field ('p:' .. hash), ARGV[2] offset, ARGV[3] chunk, ARGV[4] ttl in ms
-- Returns {1, bytes held} after appending, {0, bytes held} on a wrong offset.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0, 0}
end
local held = redis.call('STRLEN', KEYS[2])
if held ~= tonumber(ARGV[2]) then
  return {0, held}
end
held = redis.call('APPEND', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], 1)
return {1, held}
