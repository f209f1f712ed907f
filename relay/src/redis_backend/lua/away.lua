-- The visitor's connection closed without End: the session waits for a
-- resume. The away key's TTL is the grace window (Redis is the one clock
-- every relay agrees on). Pending agents leave: the next page does not know
-- them.
-- Only the session's current visitor connection can leave it: one that a
-- resume took over changes nothing.
-- KEYS[1] session key, KEYS[2] agents key, KEYS[3] away key
-- ARGV[1] grace in ms, ARGV[2] the leaving connection's attachment
-- Returns {'gone'}, {'superseded'}, or {'ok', 'a<id>' per admitted agent,
-- 'p<id>' per removed pending one}.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'gone'}
end
if (redis.call('HGET', KEYS[1], 'attachment') or '0') ~= ARGV[2] then
  return {'superseded'}
end
redis.call('HSET', KEYS[1], 'visitor', 'away')
redis.call('SET', KEYS[3], '1', 'PX', ARGV[1])
local out = {'ok'}
local entries = redis.call('HGETALL', KEYS[2])
for i = 1, #entries, 2 do
  if string.sub(entries[i + 1], 1, 8) == 'pending:' then
    redis.call('HDEL', KEYS[2], entries[i])
    table.insert(out, 'p' .. entries[i])
  else
    table.insert(out, 'a' .. entries[i])
  end
end
return out
