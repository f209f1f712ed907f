-- Takes back an upload's charge.
-- KEYS[1] session hash; ARGV[1] charge field
local bytes = redis.call('HGET', KEYS[1], ARGV[1])
if bytes then
  redis.call('HINCRBY', KEYS[1], 'used', -tonumber(bytes))
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
