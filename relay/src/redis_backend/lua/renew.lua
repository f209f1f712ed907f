-- Renews the TTL of a live session's keys. Never recreates a key: a session
-- that ended (or expired) stays gone.
-- KEYS[1] session key, KEYS[2] agents key
-- ARGV[1] key prefix, ARGV[2] ttl in ms
-- Returns 1 if the session was there, 0 if not.
local code = redis.call('HGET', KEYS[1], 'code')
if not code then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('PEXPIRE', ARGV[1] .. 'code:' .. code, ARGV[2])
return 1
