-- Records the name an agent's token carries, for a resumed session's list
-- of who is watching.
-- KEYS[1] session key, KEYS[2] names key
-- ARGV[1] agent id, ARGV[2] name, ARGV[3] session ttl in ms
-- Returns 1, or 0 if the session is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
