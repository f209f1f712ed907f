-- Adds the visitor's newest frame to the session's replay buffer; a
-- snapshot first empties it. Then drops the oldest frames past the bounds,
-- never the newest one.
-- KEYS[1] the buffer (a list), KEYS[2] its meta hash (`bytes`, `last`)
-- ARGV[1] the entry, ARGV[2] '1' if it is a snapshot, ARGV[3] its seq,
-- ARGV[4] max frames, ARGV[5] max bytes, ARGV[6] ttl in ms
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[1], KEYS[2])
end
local n = redis.call('RPUSH', KEYS[1], ARGV[1])
local total = redis.call('HINCRBY', KEYS[2], 'bytes', string.len(ARGV[1]))
redis.call('HSET', KEYS[2], 'last', ARGV[3])
local max_frames = tonumber(ARGV[4])
local max_bytes = tonumber(ARGV[5])
while n > 1 and (n > max_frames or total > max_bytes) do
  local dropped = redis.call('LPOP', KEYS[1])
  total = redis.call('HINCRBY', KEYS[2], 'bytes', -string.len(dropped))
  n = n - 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return n
