-- Removes and returns an upload's bytes.
-- KEYS[1] session hash, KEYS[2] upload key; ARGV[1] marker field
local bytes = redis.call('GET', KEYS[2])
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[1], ARGV[1])
return bytes or ''
