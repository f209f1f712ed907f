-- Renews the TTL of a live session's resource keys; never recreates one.
-- KEYS[1] session hash; ARGV[1] ttl in ms
-- Returns 1 if the session was there, 0 if not.
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local index = redis.call('HMGET', KEYS[1], 'key_index', 'token_index')
for _, key in ipairs(index) do
  if key then
    redis.call('PEXPIRE', key, ARGV[1])
  end
end
return 1
